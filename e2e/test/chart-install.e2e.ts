// `helm install`, `helm upgrade` with changed values and `helm uninstall` of the chart against
// the local cluster. Uninstalling keeps the PaddleService CRD (helm.sh/resource-policy: keep)
// and with it every PaddleService.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { CHART_DIR, REPO_ROOT, helm } from '../../charts/test/lib/chart.js';
import { installMonitoringStandins, removeMonitoringStandins } from '../../charts/test/lib/standins.js';
import { createTestNamespace, deleteTestNamespace, kubeconfigPath, kubectl, makeClients, waitForValue, type Clients } from '../src/index.js';

const CRD = 'paddleservices.serving.paddle.io';

function helmIn(args: string[]) {
  return helm(args, { kubeconfig: kubeconfigPath(), timeoutMs: 360_000 });
}

async function crdMeta(): Promise<{ labels: Record<string, string>; annotations: Record<string, string> } | undefined> {
  const r = await kubectl(['get', 'crd', CRD, '-o', 'json'], { allowFailure: true });
  if (r.code !== 0) return undefined;
  const crd = JSON.parse(r.stdout) as { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } };
  return { labels: crd.metadata.labels ?? {}, annotations: crd.metadata.annotations ?? {} };
}

// Each wait bounds a hang on a loaded machine, not an expected duration; the mocha timeout is
// above the sum of one test's or hook's waits.
describe('chart install, upgrade and uninstall', function () {
  this.timeout(900_000);
  const release = `paddle-${randomBytes(3).toString('hex')}`;
  let clients: Clients;
  let ns = '';
  let workloads = '';
  let standins: string[] = [];

  before(async () => {
    clients = makeClients();
    ns = await createTestNamespace(clients, 'chart-install');
    workloads = await createTestNamespace(clients, 'chart-psvc');
    standins = await installMonitoringStandins(kubectl);
    // The local cluster installs the CRD from crds/ at start-up. Helm adopts an existing object
    // only when it carries the release's ownership metadata, as a user adopting a CRD would set.
    if (await crdMeta()) {
      await kubectl(['label', 'crd', CRD, '--overwrite', 'app.kubernetes.io/managed-by=Helm']);
      await kubectl(['annotate', 'crd', CRD, '--overwrite', `meta.helm.sh/release-name=${release}`, `meta.helm.sh/release-namespace=${ns}`]);
    }
  });

  after(async () => {
    helmIn(['uninstall', release, '-n', ns, '--wait']);
    // Leave the kept CRD as the cluster had it: without this (deleted) release's ownership.
    await kubectl(['annotate', 'crd', CRD, 'meta.helm.sh/release-name-', 'meta.helm.sh/release-namespace-'], { allowFailure: true });
    await removeMonitoringStandins(kubectl, standins);
    if (workloads) await deleteTestNamespace(clients, workloads);
    if (ns) await deleteTestNamespace(clients, ns);
  });

  const deployment = (): Promise<V1Deployment> => clients.apps.readNamespacedDeployment({ namespace: ns, name: `${release}-paddle-operator` });

  it('installs: the operator Deployment becomes available with 2 replicas, the CRD is the release\'s and marked keep', async () => {
    const r = helmIn(['install', release, CHART_DIR, '-n', ns, '--wait', '--timeout', '300s']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /STATUS: deployed/);
    assert.match(r.stdout, /kubectl -n \S+ rollout status deployment\//, 'NOTES.txt tells the user what to do next');
    const d = await waitForValue(deployment, (x) => x.status?.availableReplicas === 2, 180_000, 'operator Deployment with 2 available replicas');
    assert.equal(d.spec?.replicas, 2);
    const meta = await crdMeta();
    assert.equal(meta?.annotations['meta.helm.sh/release-name'], release);
    assert.equal(meta?.annotations['helm.sh/resource-policy'], 'keep');
    await kubectl(['get', 'clusterrole', `${release}-paddle-operator`]);
    await kubectl(['wait', '--for', 'condition=Established', '--timeout', '180s', `crd/${CRD}`], { timeoutMs: 200_000 });
  });

  it('a PaddleService can be created while the release is installed', async () => {
    await kubectl(['apply', '-n', workloads, '-f', join(REPO_ROOT, 'examples', 'minimal.yaml')]);
    const r = await kubectl(['get', 'psvc', '-n', workloads, 'mnist-mlp', '-o', 'jsonpath={.metadata.uid}']);
    assert.ok(r.stdout.length > 0);
  });

  it('upgrades with changed values: replicas, log level and the PrometheusRule; nothing else is lost', async () => {
    const r = helmIn([
      'upgrade', release, CHART_DIR, '-n', ns, '--reuse-values', '--wait', '--timeout', '300s',
      '--set', 'replicaCount=3', '--set', 'operator.logLevel=debug', '--set', 'metrics.prometheusRule.enabled=true',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /REVISION: 2/);
    const d = await waitForValue(deployment, (x) => x.status?.availableReplicas === 3 && x.status.updatedReplicas === 3, 180_000, '3 updated, available replicas');
    assert.ok(d.spec?.template.spec?.containers[0]?.args?.includes('--log-level=debug'));
    await kubectl(['get', 'prometheusrule', '-n', ns, `${release}-paddle-operator`]);
    await kubectl(['get', 'psvc', '-n', workloads, 'mnist-mlp']);
    const values = JSON.parse(helmIn(['get', 'values', release, '-n', ns, '-o', 'json']).stdout) as Record<string, unknown>;
    assert.equal(values.replicaCount, 3);
  });

  it('uninstalls: the operator\'s objects go, the CRD and the PaddleServices stay', async () => {
    const r = helmIn(['uninstall', release, '-n', ns, '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /kept due to the resource policy/);
    assert.match(r.stdout + r.stderr, new RegExp(`CustomResourceDefinition.*${CRD.replace(/\./g, '\\.')}|${CRD.replace(/\./g, '\\.')}`));
    const gone = await kubectl(['get', 'deployment', '-n', ns, `${release}-paddle-operator`], { allowFailure: true });
    assert.notEqual(gone.code, 0, 'the operator Deployment is deleted');
    const role = await kubectl(['get', 'clusterrole', `${release}-paddle-operator`], { allowFailure: true });
    assert.notEqual(role.code, 0, 'the ClusterRole is deleted');
    assert.ok(await crdMeta(), 'the CRD is kept');
    const psvc = await kubectl(['get', 'psvc', '-n', workloads, 'mnist-mlp', '-o', 'name']);
    assert.equal(psvc.stdout.trim(), 'paddleservice.serving.paddle.io/mnist-mlp');
  });
});
