import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { applyChild, applyReason, driftOf, firstDifference, isSubset, withSpecHash } from '../src/apply.js';
import { ANNOTATIONS, buildChildren, DEFAULT_OPERATOR_CONFIG } from '../src/builders/index.js';
import type { WriteOptions } from '../src/kube-client.js';
import { loadExample } from './fixtures.js';

describe('apply: when to write', () => {
  const table: Array<[string, unknown, unknown, boolean]> = [
    ['equal scalars', 1, 1, true],
    ['different scalars', '1', 1, false],
    ['server-added fields are ignored', { a: 1 }, { a: 1, b: 2 }, true],
    ['missing field', { a: 1, b: 2 }, { a: 1 }, false],
    ['nested', { a: { b: [{ c: 1 }] } }, { a: { b: [{ c: 1, d: 2 }], e: 3 } }, true],
    ['array length differs', { a: [1, 2] }, { a: [1] }, false],
    ['array element differs', { a: [1, 2] }, { a: [1, 3] }, false],
    ['object vs array', { a: {} }, { a: [] }, false],
    // The API server omits empty lists: `args: []` is stored and watched as no `args`.
    ['empty list vs absent (the server omits empty lists)', { args: [] }, {}, true],
    ['empty list vs null', { args: [] }, { args: null }, true],
    ['empty list vs a list someone filled', { args: [] }, { args: ['--x'] }, false],
    ['a list vs absent', { args: ['--x'] }, {}, false],
  ];
  for (const [name, want, have, expected] of table) {
    it(`isSubset: ${name} -> ${expected}`, () => assert.equal(isSubset(want, have), expected));
  }

  const desired = withSpecHash({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'x', namespace: 'ns', labels: { a: 'b' } },
    data: { k: 'v' },
  } as KubernetesObject);

  it('stamps a stable hash', () => {
    const again = withSpecHash({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'ns', labels: { a: 'b' } }, data: { k: 'v' } } as KubernetesObject);
    assert.equal(desired.metadata?.annotations?.[ANNOTATIONS.specHash], again.metadata?.annotations?.[ANNOTATIONS.specHash]);
    assert.match(desired.metadata?.annotations?.[ANNOTATIONS.specHash] ?? '', /^[0-9a-f]{16}$/);
  });

  it('missing -> apply; identical live (plus server fields) -> skip', () => {
    assert.equal(applyReason(desired, undefined), 'missing');
    const live = structuredClone(desired) as KubernetesObject & { data: Record<string, string> };
    live.metadata = { ...live.metadata, resourceVersion: '7', uid: 'u', managedFields: [] } as typeof live.metadata;
    assert.equal(applyReason(desired, live), undefined);
  });

  it('a live object from a LIST (no apiVersion/kind) is not drift', () => {
    const { apiVersion: _a, kind: _k, ...fromList } = structuredClone(desired) as KubernetesObject & Record<string, unknown>;
    assert.equal(applyReason(desired, fromList as KubernetesObject), undefined);
  });

  it('spec changed (hash differs) -> changed; hand edit of an owned field -> drifted', () => {
    const live = structuredClone(desired) as KubernetesObject & { data: Record<string, string> };
    live.metadata!.annotations![ANNOTATIONS.specHash] = 'old';
    assert.equal(applyReason(desired, live), 'changed');
    const edited = structuredClone(desired) as KubernetesObject & { data: Record<string, string> };
    edited.data.k = 'hand-edited';
    assert.equal(applyReason(desired, edited), 'drifted');
    const relabeled = structuredClone(desired);
    relabeled.metadata!.labels = {};
    assert.equal(applyReason(desired, relabeled), 'drifted');
  });

  it('firstDifference names the first path where want is not in have (for the debug log of a drifted apply)', () => {
    assert.equal(firstDifference({ a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 2, d: 3 }] } }), undefined);
    assert.equal(firstDifference({ a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 4 }] } }), 'a.b[1].c (want 2, have 4)');
    assert.equal(firstDifference({ x: { resources: { limits: { memory: '1Gi' } } } }, { x: { resources: { limits: { memory: '1024Mi' } } } }), undefined);
    assert.match(firstDifference({ x: { resources: { limits: { memory: '1Gi' } } } }, { x: { resources: { limits: { memory: '2Gi' } } } }) ?? '', /^x\.resources\.limits /);
    const live = structuredClone(desired) as KubernetesObject & { data: Record<string, string> };
    live.data.k = 'edited';
    assert.equal(driftOf(desired, live), 'data.k (want "v", have "edited")');
    assert.equal(driftOf(desired, structuredClone(desired)), undefined);
  });
});

describe('applyChild: what it asks the API server to answer', () => {
  it('the whole object for a Deployment or a Certificate (their status is read), metadata only for the other children', async () => {
    const asked: Array<[string, boolean]> = [];
    const client = {
      apply: async <T extends KubernetesObject>(path: string, obj: T, fieldManager: string, opts: WriteOptions = {}): Promise<T> => {
        assert.equal(fieldManager, 'paddle-operator');
        asked.push([obj.kind ?? '', opts.metadataOnly === true]);
        // What the API server answers either way.
        const metadata = { ...obj.metadata, resourceVersion: '42' };
        return (opts.metadataOnly ? { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata } : { ...obj, metadata, status: { seen: true } }) as unknown as T;
      },
    };
    const { objects } = buildChildren(loadExample('gpu.yaml'), DEFAULT_OPERATOR_CONFIG, { replicas: 2 });
    const kinds = objects.map((o) => o.kind);
    assert.ok(kinds.includes('Certificate') && kinds.includes('Deployment') && kinds.includes('ConfigMap'), kinds.join());
    for (const obj of objects) {
      const written = (await applyChild(client, obj)) as KubernetesObject & { status?: unknown };
      assert.equal(written.kind, obj.kind, 'the kind of the child, whatever the answer said');
      assert.equal(written.apiVersion, obj.apiVersion);
      assert.equal(written.metadata?.resourceVersion, '42');
      assert.equal(written.status !== undefined, obj.kind === 'Deployment' || obj.kind === 'Certificate', obj.kind);
    }
    assert.deepEqual(
      asked.filter(([, metadataOnly]) => !metadataOnly).map(([k]) => k).sort(),
      ['Certificate', 'Deployment'],
    );
  });
});

