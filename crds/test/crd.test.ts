import assert from 'node:assert/strict';
import { CEL_RULES, loadCrd, paddleServiceSchema, type SchemaNode } from '../src/index.js';

function walk(node: SchemaNode, path: string[], visit: (node: SchemaNode, path: string[]) => void): void {
  visit(node, path);
  for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, [...path, key], visit);
  if (node.items) walk(node.items, [...path, '*'], visit);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, [...path, '*'], visit);
}

describe('PaddleService CRD', () => {
  const crd = loadCrd();
  const version = crd.spec.versions[0];

  it('is apiextensions.k8s.io/v1, namespaced, with the agreed names', () => {
    assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
    assert.equal(crd.metadata.name, 'paddleservices.serving.paddle.io');
    assert.equal(crd.spec.group, 'serving.paddle.io');
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.equal(crd.spec.names.kind, 'PaddleService');
    assert.equal(crd.spec.names.plural, 'paddleservices');
    assert.deepEqual(crd.spec.names.shortNames, ['psvc']);
    assert.ok(crd.spec.names.categories?.includes('paddle'));
    assert.equal(crd.spec.versions.length, 1);
    assert.equal(version?.name, 'v1alpha1');
    assert.equal(version?.served, true);
    assert.equal(version?.storage, true);
  });

  it('has the status and scale subresources', () => {
    assert.deepEqual(version?.subresources, {
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
  });

  it('prints Ready, Reason, Device, Replicas, P95, Breaker, Age, with details at priority 1', () => {
    const columns = version?.additionalPrinterColumns ?? [];
    assert.deepEqual(
      columns.filter((c) => !c.priority).map((c) => c.name),
      ['Ready', 'Reason', 'Device', 'Replicas', 'P95', 'Breaker', 'Age'],
    );
    assert.ok(columns.filter((c) => c.priority === 1).length >= 3);
    const schema = paddleServiceSchema();
    for (const column of columns) {
      if (column.jsonPath.startsWith('.metadata')) continue;
      const segments = column.jsonPath.replace(/\[\?.*?\]/, '').split('.').slice(1);
      let node: SchemaNode | undefined = schema;
      for (const seg of segments) node = node?.properties?.[seg] ?? node?.items?.properties?.[seg];
      assert.ok(node, `printer column ${column.name} points at ${column.jsonPath}, which is not in the schema`);
    }
  });

  it('documents every field (kubectl explain)', () => {
    const missing: string[] = [];
    walk(paddleServiceSchema(), [], (node, path) => {
      const last = path[path.length - 1];
      if (path.length === 0 || last === '*' || path[0] === 'metadata') return;
      if (!node.description) missing.push(path.join('.'));
    });
    assert.deepEqual(missing, []);
  });

  it('has the same CEL rules as crds/src/cel-rules.ts (rule text, message and place)', () => {
    const inCrd: string[] = [];
    walk(paddleServiceSchema(), [], (node, path) => {
      for (const v of node['x-kubernetes-validations'] ?? []) inCrd.push(`${path.join('.')} | ${v.rule} | ${v.message}`);
    });
    const inTs = CEL_RULES.map((r) => `${r.path.join('.')} | ${r.rule} | ${r.message}`);
    assert.deepEqual([...inTs].sort(), [...inCrd].sort());
  });
});
