// The operator against the real control plane: children and owner references, GPU scheduling
// onto kwok nodes, the Certificate made Ready by cert-manager, status from pod reports,
// spec changes, hand edits restored, garbage collection, and a missing public-key Secret.
import assert from 'node:assert/strict';
import type { KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { PaddleService } from '../../crds/src/index.js';
import { kubectl, makeClients, useTestNamespace, waitFor, waitForValue, type Clients } from '../src/index.js';
import {
  createPaddleService,
  createSigningKeySecret,
  e2eExample,
  getPaddleService,
  mergePatchPaddleService,
  reportFromAllPods,
  startOperator,
  type OperatorProcess,
} from '../../operator/test/e2e/harness.js';

const CHILD_KINDS: Array<[string, string, string, (name: string) => string]> = [
  ['v1', 'ServiceAccount', 'serviceaccounts', (n) => n],
  ['rbac.authorization.k8s.io/v1', 'Role', 'roles', (n) => `${n}-status-reporter`],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings', (n) => `${n}-status-reporter`],
  ['v1', 'ConfigMap', 'configmaps', (n) => `${n}-config`],
  ['cert-manager.io/v1', 'Certificate', 'certificates', (n) => n],
  ['v1', 'Service', 'services', (n) => n],
  ['apps/v1', 'Deployment', 'deployments', (n) => n],
  ['policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets', (n) => n],
];

function condition(ps: PaddleService, type: string) {
  return ps.status?.conditions?.find((c) => c.type === type);
}

async function readChild(clients: Clients, apiVersion: string, kind: string, namespace: string, name: string): Promise<KubernetesObject | undefined> {
  try {
    return await clients.objects.read({ apiVersion, kind, metadata: { name, namespace } });
  } catch {
    return undefined;
  }
}

/** resourceVersions of a PaddleService and its children, and the count of its Events: a write to any shows up. */
async function writeFingerprint(clients: Clients, namespace: string, name: string): Promise<Record<string, string | number>> {
  const out: Record<string, string | number> = {};
  out.PaddleService = (await getPaddleService(clients, namespace, name)).metadata.resourceVersion ?? '';
  for (const [apiVersion, kind, , nameOf] of CHILD_KINDS) {
    out[kind] = (await readChild(clients, apiVersion, kind, namespace, nameOf(name)))?.metadata?.resourceVersion ?? 'missing';
  }
  out.events = (await clients.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })).items.length;
  return out;
}

describe('operator: reconcile on the local control plane', function () {
  this.timeout(180_000);
  let clients: Clients;
  let op: OperatorProcess;
  before(async function () {
    this.timeout(90_000);
    clients = makeClients();
    op = await startOperator({ identity: 'e2e-reconcile', leaseName: 'e2e-reconcile', extraArgs: ['--resync-seconds', '5'] });
    await waitFor(async () => (await op.metric('paddle_operator_leader')) === 1, 30_000, 'the operator to lead');
  });
  after(async () => {
    await op?.stop();
  });
  const ns = useTestNamespace(() => clients, 'op');

  it('gpu example: every child with owner refs, pods on GPU nodes, Certificate Ready, Ready from reports', async () => {
    await createSigningKeySecret(clients, ns.name);
    const created = await createPaddleService(clients, ns.name, e2eExample('gpu.yaml', 'ernie'));
    const uid = created.metadata.uid;

    for (const [apiVersion, kind, , nameOf] of CHILD_KINDS) {
      const obj = await waitForValue(() => readChild(clients, apiVersion, kind, ns.name, nameOf('ernie')), (o) => o !== undefined, 60_000, `${kind} ${nameOf('ernie')}`);
      const ref = obj?.metadata?.ownerReferences?.[0];
      assert.equal(ref?.uid, uid, `${kind} owned by the PaddleService`);
      assert.equal(ref?.controller, true, `${kind} controller ref`);
      assert.equal(obj?.metadata?.managedFields?.some((f) => f.manager === 'paddle-operator' && f.operation === 'Apply'), true, `${kind} applied by paddle-operator`);
    }

    const d = (await clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'ernie' })) as V1Deployment;
    const c = d.spec?.template.spec?.containers[0];
    assert.equal(c?.resources?.limits?.['nvidia.com/gpu'], '1');
    assert.equal(c?.resources?.limits?.memory, '8Gi', 'maxMemoryMB 8192, as the API server stores it');
    assert.equal(d.spec?.template.spec?.nodeSelector?.['nvidia.com/gpu.product'], 'NVIDIA-A100-SXM4-80GB');
    assert.equal(d.spec?.replicas, 2, 'autoscaling minReplicas');

    const pods = await waitForValue(
      async () => (await clients.core.listNamespacedPod({ namespace: ns.name, labelSelector: 'app.kubernetes.io/instance=ernie' })).items,
      (items: V1Pod[]) => items.length === 2 && items.every((p) => p.status?.phase === 'Running'),
      90_000,
      'two Running model pods',
    );
    for (const p of pods) assert.match(p.spec?.nodeName ?? '', /^kwok-gpu-/, `${p.metadata?.name} on a GPU node`);

    const certReady = await waitForValue(() => getPaddleService(clients, ns.name, 'ernie'), (ps) => condition(ps, 'CertificateReady')?.status === 'True', 60_000, 'CertificateReady=True');
    assert.equal(condition(certReady, 'Ready')?.status, 'False', 'not Ready before any pod reports a verified model');

    // gpu.yaml's matrix layout (5 sequence-length edges): reports with another layout are not summed.
    await reportFromAllPods(clients, ns.name, 'ernie', {
      matrix: { gpuMemoryBucketMB: 1024, latencyBucketMs: 5, seqLenEdges: [128, 256, 512, 1024, 2048], total: 200, cells: [{ s: 1, d: 2, l: 0, count: 200 }] },
    });
    const ready = await waitForValue(() => getPaddleService(clients, ns.name, 'ernie'), (ps) => condition(ps, 'Ready')?.status === 'True', 60_000, 'Ready=True after reports');
    assert.equal(condition(ready, 'ModelVerified')?.status, 'True');
    assert.equal(ready.status?.device, 'gpu');
    assert.equal(ready.status?.latency?.p95Ms, 12);
    assert.equal(ready.status?.matrix?.total, 400, 'matrix summed over two pods');
    assert.equal(ready.status?.opProfile?.[0]?.op, 'matmul');
    assert.equal(ready.status?.model?.digest, 'sha256:e2e0');
    assert.equal(ready.status?.replicasSummary, '2/2');
    assert.equal(ready.status?.observedGeneration, ready.metadata.generation);

    const table = await kubectl(['get', 'psvc', 'ernie', '-n', ns.name]);
    assert.match(table.stdout, /ernie\s+True\s+Serving\s+gpu\s+2\/2\s+12\s+closed/);

    // The Event is created after the status write that records the transition: wait for it.
    await waitForValue(
      async () => (await clients.core.listNamespacedEvent({ namespace: ns.name, fieldSelector: 'involvedObject.name=ernie' })).items,
      (items) => items.some((e) => e.reason === 'Ready' && e.type === 'Normal'),
      60_000,
      'a Ready Event',
    );
  });

  it('spec change rolls into the children; a hand edit is restored; delete collects every child', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'mnist'));
    const first = await waitForValue(() => getPaddleService(clients, ns.name, 'mnist'), (ps) => ps.status?.observedGeneration === 1, 60_000, 'observedGeneration 1');
    assert.equal(first.metadata.generation, 1);
    await waitForValue(() => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'mnist' }), () => true, 30_000, 'Deployment');

    // Spec change: threads 1 -> 3, memory 2048 -> 1024.
    await mergePatchPaddleService(clients, ns.name, 'mnist', { spec: { runtime: { cpuThreads: 3, maxMemoryMB: 1024 } } });
    const env = (d: V1Deployment, name: string) => d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === name)?.value;
    const updated = await waitForValue(
      () => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'mnist' }),
      (d) => env(d, 'PADDLE_CPU_THREADS') === '3' && d.spec?.template.spec?.containers[0]?.resources?.limits?.memory === '1Gi',
      60_000,
      'Deployment with 3 threads and 1Gi',
    );
    assert.equal(env(updated, 'OMP_NUM_THREADS'), '3');
    await waitForValue(() => getPaddleService(clients, ns.name, 'mnist'), (ps) => ps.status?.observedGeneration === 2, 60_000, 'observedGeneration 2');

    // Hand edit: someone raises the memory limit and changes replicas behind the operator's back.
    await kubectl(['-n', ns.name, 'patch', 'deployment', 'mnist', '--type', 'json', '-p',
      JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/resources/limits/memory', value: '9Gi' }, { op: 'replace', path: '/spec/replicas', value: 3 }])]);
    await waitForValue(
      () => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'mnist' }),
      (d) => d.spec?.template.spec?.containers[0]?.resources?.limits?.memory === '1Gi' && d.spec?.replicas === 1,
      60_000,
      'the hand edit to be reverted',
    );

    // Delete: the garbage collector removes every child through the owner references.
    await clients.custom.deleteNamespacedCustomObject({ group: 'serving.paddle.io', version: 'v1alpha1', namespace: ns.name, plural: 'paddleservices', name: 'mnist' });
    await waitFor(async () => {
      const left: string[] = [];
      for (const [apiVersion, kind, , nameOf] of CHILD_KINDS) if (await readChild(clients, apiVersion, kind, ns.name, nameOf('mnist'))) left.push(kind);
      return { done: left.length === 0, seen: left };
    }, 90_000, 'every child to be garbage-collected');
  });

  it('GPU spec without a fitting node stays Pending and is never Ready', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('gpu.yaml', 'huge', (ps) => {
      ps.spec.resources = { ...ps.spec.resources, gpu: { count: 9, resourceName: 'nvidia.com/gpu' } };
      ps.spec.autoscaling = undefined;
      ps.spec.replicas = 1;
    }));
    const pods = await waitForValue(
      async () => (await clients.core.listNamespacedPod({ namespace: ns.name, labelSelector: 'app.kubernetes.io/instance=huge' })).items,
      (items: V1Pod[]) => items.length === 1 && items[0]?.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False') === true,
      60_000,
      'an unschedulable pod',
    );
    assert.match(pods[0]?.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message ?? '', /Insufficient nvidia.com\/gpu/);
    const ps = await waitForValue(() => getPaddleService(clients, ns.name, 'huge'), (p) => condition(p, 'Ready')?.reason === 'DeploymentUnavailable', 60_000, 'Ready=False/DeploymentUnavailable');
    assert.equal(condition(ps, 'Ready')?.status, 'False');
  });

  it('missing public-key Secret: Ready=False with reason and one Event, and few API calls while missing', async () => {
    await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'nokey'));
    // Let the rest settle (Certificate issued, pods Running) so only the blocker remains.
    const ps = await waitForValue(
      () => getPaddleService(clients, ns.name, 'nokey'),
      (p) => condition(p, 'Ready')?.reason === 'PublicKeySecretMissing' && condition(p, 'CertificateReady')?.status === 'True' && condition(p, 'Available')?.status === 'True',
      60_000,
      'Ready=False/PublicKeySecretMissing with the rest settled',
    );
    assert.equal(condition(ps, 'Ready')?.status, 'False');
    assert.match(condition(ps, 'Ready')?.message ?? '', new RegExp(`${ns.name}/model-signing-key`));

    const gets0 = await op.metric('paddle_operator_api_requests_total', { verb: 'get', resource: 'secrets' });
    const before = await writeFingerprint(clients, ns.name, 'nokey');
    await new Promise((r) => setTimeout(r, 20_000));
    const gets = (await op.metric('paddle_operator_api_requests_total', { verb: 'get', resource: 'secrets' })) - gets0;
    // Backoff doubles from 0.5 s (capped at 60 s) and this suite resyncs every 5 s: a handful of
    // checks in 20 s, and no status writes (nothing changed).
    assert.ok(gets <= 8, `secret GETs in 20 s while missing: ${gets}`);
    assert.deepEqual(await writeFingerprint(clients, ns.name, 'nokey'), before, 'no writes (status, children, Events) while nothing changes');
    const events = (await clients.core.listNamespacedEvent({ namespace: ns.name, fieldSelector: 'involvedObject.name=nokey' })).items;
    assert.equal(events.filter((e) => e.reason === 'PublicKeySecretMissing').length, 1, 'one Event, not one per retry');

    // The Secret appears: the operator notices on its next backoff step.
    await createSigningKeySecret(clients, ns.name);
    await waitForValue(() => getPaddleService(clients, ns.name, 'nokey'), (p) => condition(p, 'Ready')?.reason !== 'PublicKeySecretMissing', 60_000, 'the blocker to clear');
  });

  it('a converged PaddleService: children applied once, and resyncs write nothing', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'steady'));
    // Both asynchronous inputs settle first (the Deployment and cert-manager's Certificate):
    // a status change they cause after the fingerprint is a real write, not a resync's.
    await waitForValue(
      () => getPaddleService(clients, ns.name, 'steady'),
      (p) => condition(p, 'Available')?.status === 'True' && condition(p, 'CertificateReady')?.status === 'True',
      60_000,
      'Available=True and CertificateReady=True',
    );
    const d = await clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'steady' });
    assert.equal(d.metadata?.generation, 1, 'the Deployment spec was written once');
    const before = await writeFingerprint(clients, ns.name, 'steady');
    const resyncs0 = await op.metric('paddle_operator_reconcile_total');
    await new Promise((r) => setTimeout(r, 12_000)); // two resync periods (5 s in this suite)
    assert.ok((await op.metric('paddle_operator_reconcile_total')) > resyncs0, 'resyncs happened');
    assert.deepEqual(await writeFingerprint(clients, ns.name, 'steady'), before, 'no writes on no-op resync');
  });
});

