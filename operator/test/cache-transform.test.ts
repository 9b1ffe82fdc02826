import assert from 'node:assert/strict';
import type { KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { applyReason, withSpecHash } from '../src/apply.js';
import { ANNOTATIONS, buildChildren, DEFAULT_OPERATOR_CONFIG } from '../src/builders/index.js';
import { childForCache, podForCache, sameCachedContent, withoutManagedFields } from '../src/cache-transform.js';
import { loadExample } from './fixtures.js';

type Obj = KubernetesObject & Record<string, unknown>;

/** A value as it comes off the wire: through JSON (Dates become strings). */
function jsonOf<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The desired children of an example, stamped as the reconciler applies them. */
function desiredChildren(file: string): Obj[] {
  return buildChildren(loadExample(file), DEFAULT_OPERATOR_CONFIG, { replicas: 2 }).objects.map((o) => withSpecHash(o) as Obj);
}

/** `desired` as the API server answers it: server metadata, defaulted fields, status. */
function asServed(desired: Obj, rv = '42'): Obj {
  const live = structuredClone(desired);
  live.metadata = {
    ...live.metadata,
    uid: `uid-${live.metadata?.name}`,
    resourceVersion: rv,
    generation: 3,
    creationTimestamp: new Date('2026-01-01T00:00:00Z'),
    annotations: { ...live.metadata?.annotations, 'deployment.kubernetes.io/revision': '2', 'kubectl.kubernetes.io/last-applied-configuration': '{"x":1}' },
    managedFields: [{ manager: 'paddle-operator', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }],
  };
  if (live.kind === 'Deployment') {
    const d = live as unknown as V1Deployment;
    const spec = d.spec!;
    spec.progressDeadlineSeconds = 600;
    const pod = spec.template.spec!;
    pod.dnsPolicy = 'ClusterFirst';
    pod.schedulerName = 'default-scheduler';
    for (const c of pod.containers) {
      c.terminationMessagePath = '/dev/termination-log';
      if (c.livenessProbe) c.livenessProbe.successThreshold = 1;
    }
    d.status = {
      observedGeneration: 3,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 1,
      availableReplicas: 1,
      unavailableReplicas: 1,
      terminatingReplicas: 0,
      collisionCount: 0,
      conditions: [
        { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' },
        { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: 'progressing' },
      ],
    };
  }
  if (live.kind === 'Certificate') live.status = { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'issued' }], notAfter: '2027-01-01T00:00:00Z' };
  if (live.kind === 'Service') live.status = { loadBalancer: {} };
  return live;
}

describe('cache transforms (what the informer caches keep)', () => {
  for (const file of ['minimal.yaml', 'gpu.yaml']) {
    for (const desired of desiredChildren(file)) {
      const what = `${file} ${desired.kind}`;

      it(`${what}: the stripped object passes the drift check unchanged`, () => {
        const cached = childForCache(asServed(desired));
        assert.equal(applyReason(desired, cached), undefined);
        assert.equal(cached.metadata?.managedFields, undefined);
        assert.equal(cached.metadata?.creationTimestamp, undefined);
        assert.deepEqual(cached.metadata?.annotations, { [ANNOTATIONS.specHash]: desired.metadata?.annotations?.[ANNOTATIONS.specHash] });
        assert.equal(cached.metadata?.resourceVersion, '42');
        assert.deepEqual(cached.metadata?.ownerReferences, desired.metadata?.ownerReferences);
      });

      it(`${what}: a hand edit of a compared field is still detected`, () => {
        const edited = asServed(desired);
        edited.metadata!.labels = { ...edited.metadata!.labels, 'app.kubernetes.io/instance': 'someone-else' };
        assert.equal(applyReason(desired, childForCache(edited)), 'drifted', 'label');
        const noOwner = asServed(desired);
        noOwner.metadata!.ownerReferences = [];
        assert.equal(applyReason(desired, childForCache(noOwner)), 'drifted', 'owner reference');
        const rehashed = asServed(desired);
        rehashed.metadata!.annotations = { ...rehashed.metadata!.annotations, [ANNOTATIONS.specHash]: 'other' };
        assert.equal(applyReason(desired, childForCache(rehashed)), 'changed', 'spec hash');
      });
    }
  }

  it('Deployment: a hand-edited container field, replicas and a dropped limit are detected', () => {
    const desired = desiredChildren('gpu.yaml').find((o) => o.kind === 'Deployment')!;
    const edits: Array<[string, (d: V1Deployment) => void]> = [
      ['image', (d) => void (d.spec!.template.spec!.containers[0]!.image = 'evil:latest')],
      ['replicas', (d) => void (d.spec!.replicas = 7)],
      ['gpu limit', (d) => void delete d.spec!.template.spec!.containers[0]!.resources!.limits!['nvidia.com/gpu']],
      ['security context', (d) => void (d.spec!.template.spec!.securityContext!.runAsNonRoot = false)],
    ];
    for (const [name, edit] of edits) {
      const live = asServed(desired) as unknown as V1Deployment;
      edit(live);
      assert.equal(applyReason(desired, childForCache(live as unknown as Obj)), 'drifted', name);
    }
  });

  it('ConfigMap: a hand-edited config file is detected', () => {
    const desired = desiredChildren('minimal.yaml').find((o) => o.kind === 'ConfigMap')!;
    const live = asServed(desired) as Obj & { data: Record<string, string> };
    const key = Object.keys(live.data)[0]!;
    live.data[key] = `${live.data[key]} `;
    assert.equal(applyReason(desired, childForCache(live)), 'drifted');
  });

  it('Deployment and Certificate keep the status fields the status folding reads; other kinds keep none', () => {
    const children = desiredChildren('minimal.yaml');
    const d = childForCache(asServed(children.find((o) => o.kind === 'Deployment')!)) as V1Deployment;
    assert.deepEqual(Object.keys(d.status ?? {}).sort(), ['availableReplicas', 'conditions', 'readyReplicas', 'replicas']);
    assert.equal(d.status?.readyReplicas, 1);
    assert.deepEqual(d.status?.conditions, [{ type: 'Available', status: 'False' }, { type: 'Progressing', status: 'True' }]);
    assert.equal(d.metadata?.generation, 3);
    assert.equal(d.spec?.replicas, 2);
    const cert = childForCache(asServed(children.find((o) => o.kind === 'Certificate')!)) as Obj & { status?: { conditions?: unknown[] } };
    assert.deepEqual(cert.status, { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'issued' }] });
    const svc = childForCache(asServed(children.find((o) => o.kind === 'Service')!));
    assert.equal((svc as Obj).status, undefined);
  });

  it('pods keep their identity, labels, deletionTimestamp and how their containers ended, nothing else', () => {
    // As it arrives: JSON from the API server (timestamps are strings).
    const pod = jsonOf<V1Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p-1',
        namespace: 'ml',
        uid: 'u1',
        resourceVersion: '9',
        labels: { 'app.kubernetes.io/instance': 'mnist-mlp' },
        deletionTimestamp: new Date('2026-01-01T00:00:00Z'),
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'r1', controller: true }],
        managedFields: [{ manager: 'kubelet' }],
      },
      spec: { containers: [{ name: 'c', image: 'i' }] },
      status: {
        phase: 'Running',
        podIP: '10.0.0.1',
        containerStatuses: [
          {
            name: 'c',
            image: 'i',
            imageID: 'sha256:1',
            ready: false,
            restartCount: 2,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s' } },
            lastState: { terminated: { reason: 'OOMKilled', exitCode: 137, startedAt: new Date(0), finishedAt: new Date(0) } },
          },
        ],
      },
    });
    const cached = podForCache(pod);
    assert.deepEqual(cached, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p-1',
        namespace: 'ml',
        uid: 'u1',
        resourceVersion: '9',
        labels: { 'app.kubernetes.io/instance': 'mnist-mlp' },
        deletionTimestamp: '2026-01-01T00:00:00.000Z',
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'r1', controller: true }],
      },
      status: {
        containerStatuses: [
          { name: 'c', image: '', imageID: '', ready: false, restartCount: 2, lastState: { terminated: { reason: 'OOMKilled', exitCode: 137, finishedAt: '1970-01-01T00:00:00.000Z' } } },
        ],
      },
    });
  });

  it('a PaddleService loses only managedFields; the object it came from is left as it was', () => {
    const ps = loadExample('gpu.yaml') as unknown as Obj;
    const served = { ...structuredClone(ps), metadata: { ...structuredClone(ps.metadata), managedFields: [{ manager: 'kubectl' }] } } as Obj;
    const cached = withoutManagedFields(served);
    assert.deepEqual(cached, JSON.parse(JSON.stringify(ps)));
    // Its metadata is a new object (the served one, managedFields and all, is not kept alive by
    // the cache); the spec is shared, not copied (the served object is garbage after the transform).
    assert.notEqual(cached.metadata, served.metadata);
    assert.deepEqual(served.metadata?.managedFields, [{ manager: 'kubectl' }]);
  });

  describe('sameCachedContent: which watch updates need a reconcile', () => {
    const pod = (rv: string, mutate: (p: V1Pod) => void = () => undefined): V1Pod => {
      const p: V1Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p-1', namespace: 'ml', uid: 'u1', resourceVersion: rv, labels: { 'app.kubernetes.io/instance': 'mnist-mlp' } },
        spec: { containers: [{ name: 'c', image: 'i' }] },
        status: { phase: 'Pending' },
      };
      mutate(p);
      return podForCache(p);
    };

    it('a pod scheduled, started and made Ready: nothing the cache keeps changed', () => {
      const before = pod('9');
      const after = pod('12', (p) => {
        p.spec!.nodeName = 'kwok-cpu-0';
        p.status = {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'True' }],
          containerStatuses: [{ name: 'c', image: 'i', imageID: 'x', ready: true, restartCount: 0, state: { running: {} } }],
        };
      });
      assert.equal(sameCachedContent(before, after), true);
    });

    it('a pod whose container was killed, that is being deleted, or whose labels changed: changed', () => {
      const before = pod('9');
      const killed = pod('10', (p) => {
        p.status = { containerStatuses: [{ name: 'c', image: 'i', imageID: 'x', ready: false, restartCount: 1, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] };
      });
      assert.equal(sameCachedContent(before, killed), false);
      assert.equal(sameCachedContent(before, pod('10', (p) => (p.metadata!.deletionTimestamp = new Date(0)))), false);
      assert.equal(sameCachedContent(before, pod('10', (p) => (p.metadata!.labels!['serving.paddle.io/template-hash'] = 'b'))), false);
    });

    it('a Deployment: a status field the status folds changes it, a dropped annotation does not', () => {
      const desired = desiredChildren('minimal.yaml').find((o) => o.kind === 'Deployment')!;
      const before = childForCache(asServed(desired, '42'));
      const revision = asServed(desired, '43');
      revision.metadata!.annotations!['deployment.kubernetes.io/revision'] = '3';
      assert.equal(sameCachedContent(before, childForCache(revision)), true);
      const available = asServed(desired, '44') as unknown as V1Deployment;
      available.status!.availableReplicas = 2;
      assert.equal(sameCachedContent(before, childForCache(available as unknown as Obj)), false);
    });

    it("a new Deployment's Progressing steps do not change it; Available, a stalled rollout and the replica counts do", () => {
      const desired = desiredChildren('minimal.yaml').find((o) => o.kind === 'Deployment')!;
      const served = (rv: string, progressing: { status: string; reason: string; message: string }, available = 'True', edit?: (d: V1Deployment) => void) => {
        const d = asServed(desired, rv) as unknown as V1Deployment;
        d.status = {
          observedGeneration: Number(rv),
          replicas: 0,
          updatedReplicas: 0,
          conditions: [
            { type: 'Available', status: available, reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: new Date(Number(rv) * 1000), lastTransitionTime: new Date(0) },
            { type: 'Progressing', ...progressing, lastUpdateTime: new Date(Number(rv) * 1000), lastTransitionTime: new Date(0) },
          ],
        };
        edit?.(d);
        return childForCache(d as unknown as Obj);
      };
      const created = served('10', { status: 'True', reason: 'NewReplicaSetCreated', message: 'Created new replica set "a-1"' });
      // The Deployment controller's next two writes of a new Deployment at 0 replicas.
      assert.equal(sameCachedContent(created, served('11', { status: 'True', reason: 'ReplicaSetUpdated', message: 'ReplicaSet "a-1" is progressing.' })), true);
      assert.equal(sameCachedContent(created, served('12', { status: 'True', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet "a-1" has successfully progressed.' })), true);
      // What computeStatus reads does change it.
      const stalled = served('13', { status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "a-1" has timed out progressing.' });
      assert.equal(sameCachedContent(created, stalled), false);
      assert.deepEqual((stalled as unknown as V1Deployment).status?.conditions?.[1], { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "a-1" has timed out progressing.' });
      assert.equal(sameCachedContent(created, served('14', { status: 'True', reason: 'NewReplicaSetAvailable', message: '' }, 'False')), false);
      assert.equal(sameCachedContent(created, served('15', { status: 'True', reason: 'NewReplicaSetAvailable', message: '' }, 'True', (d) => (d.status!.availableReplicas = 1))), false);
    });

    it("a Certificate: cert-manager's other status fields do not change it, its Ready condition does", () => {
      const desired = desiredChildren('minimal.yaml').find((o) => o.kind === 'Certificate')!;
      const before = childForCache(asServed(desired, '42'));
      const renewed = asServed(desired, '43');
      renewed.status = { ...(renewed.status as object), notAfter: '2027-02-01T00:00:00Z', revision: 2 };
      assert.equal(sameCachedContent(before, childForCache(renewed)), true);
      const failing = asServed(desired, '44');
      failing.status = { conditions: [{ type: 'Ready', status: 'False', reason: 'Expired', message: 'expired' }] };
      assert.equal(sameCachedContent(before, childForCache(failing)), false);
    });

    it('an object the cache does not hold yet is always news', () => {
      assert.equal(sameCachedContent(undefined, pod('1')), false);
    });
  });
});
