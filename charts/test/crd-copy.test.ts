// The chart installs the same PaddleService CRD as crds/ (the API's single source of truth).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { CHART_DIR, REPO_ROOT, only, render } from './lib/chart.js';

const CRD_FILE = 'serving.paddle.io_paddleservices.yaml';
const source = readFileSync(join(REPO_ROOT, 'crds', CRD_FILE), 'utf8');
const copy = readFileSync(join(CHART_DIR, 'files', 'crds', CRD_FILE), 'utf8');
const sourceObject = yaml.load(source) as { metadata: { name: string; labels: Record<string, string> }; spec: unknown; apiVersion: string; kind: string };

describe('chart CRD', () => {
  it('files/crds holds a byte-identical copy of crds/ (run make chart-sync-crds after changing the API)', () => {
    assert.ok(copy === source, `charts/paddle-operator/files/crds/${CRD_FILE} differs from crds/${CRD_FILE}: run make chart-sync-crds`);
  });

  it('renders the CRD with the same apiVersion, kind, name and spec as crds/, and its own labels kept', () => {
    const crd = only(render(), 'CustomResourceDefinition');
    assert.equal(crd.apiVersion, sourceObject.apiVersion);
    assert.equal(crd.kind, sourceObject.kind);
    assert.equal(crd.metadata.name, sourceObject.metadata.name);
    assert.deepEqual(crd.spec, sourceObject.spec);
    for (const [k, v] of Object.entries(sourceObject.metadata.labels)) assert.equal(crd.metadata.labels?.[k], v, `label ${k}`);
    assert.equal(crd.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm');
  });

  it('keeps the CRD on uninstall by default and only then', () => {
    assert.equal(only(render(), 'CustomResourceDefinition').metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    const notKept = only(render({ set: { 'crds.keep': false } }), 'CustomResourceDefinition');
    assert.equal(notKept.metadata.annotations?.['helm.sh/resource-policy'], undefined);
  });

  it('renders no CRD when crds.enabled is false', () => {
    assert.equal(render({ set: { 'crds.enabled': false } }).filter((o) => o.kind === 'CustomResourceDefinition').length, 0);
  });
});
