// The operator against the real control plane: children and owner references, GPU scheduling
// onto kwok nodes, the Certificate made Ready by cert-manager, status from pod reports,
// spec changes, hand edits restored, garbage collection, and a missing public-key Secret.
import assert from 'node:assert/strict';
import type { KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { PaddleService } from '../../crds/src/index.js';
import { deleteObject, kubectl, makeClients, useTestNamespace, waitFor, waitForValue, type Clients } from '../src/index.js';
import {
  CONVERGE_TIMEOUT_MS,
  STARTUP_TIMEOUT_MS,
  createPaddleService,
  createSigningKeySecret,
  e2eExample,
  getPaddleService,
  mergePatchPaddleService,
  reportFromAllPods,
  startOperator,
  waitUntilIdle,
  waitUntilLeading,
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

/** Children whose status other controllers write (so their resourceVersion moves without us): compared by generation, which only a spec write moves. */
const STATUS_BY_OTHERS = new Set(['Certificate', 'Deployment', 'PodDisruptionBudget']);

/**
 * What the operator may have written, as the API server has it: the PaddleService's
 * resourceVersion (only the operator writes its status here), each child's resourceVersion (its
 * generation where another controller writes its status), and the count of the PaddleService's
 * own Events (the Deployment's and the Certificate's Events share its name). A write shows up.
 */
async function writeFingerprint(clients: Clients, namespace: string, name: string): Promise<Record<string, string | number>> {
  const out: Record<string, string | number> = {};
  out.PaddleService = (await getPaddleService(clients, namespace, name)).metadata.resourceVersion ?? '';
  for (const [apiVersion, kind, , nameOf] of CHILD_KINDS) {
    const child = await readChild(clients, apiVersion, kind, namespace, nameOf(name));
    out[kind] = (STATUS_BY_OTHERS.has(kind) ? `generation ${child?.metadata?.generation}` : child?.metadata?.resourceVersion) ?? 'missing';
  }
  out.events = (await clients.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=PaddleService,involvedObject.name=${name}` })).items.length;
  return out;
}

// Every wait is bounded by CONVERGE_TIMEOUT_MS (a hang, not an expected duration); the mocha
// timeout is above the sum of one test's waits.
describe('operator: reconcile on the local control plane', function () {
  this.timeout(1_800_000);
  let clients: Clients;
  let op: OperatorProcess;
  before(async function () {
    this.timeout(2 * STARTUP_TIMEOUT_MS + 30_000);
    clients = makeClients();
    op = await startOperator({ identity: 'e2e-reconcile', leaseName: 'e2e-reconcile', extraArgs: ['--resync-seconds', '5'] });
    await waitUntilLeading(op);
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
      const obj = await waitForValue(() => readChild(clients, apiVersion, kind, ns.name, nameOf('ernie')), (o) => o !== undefined, CONVERGE_TIMEOUT_MS, `${kind} ${nameOf('ernie')}`);
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
      CONVERGE_TIMEOUT_MS,
      'two Running model pods',
    );
    for (const p of pods) assert.match(p.spec?.nodeName ?? '', /^kwok-gpu-/, `${p.metadata?.name} on a GPU node`);

    const certReady = await waitForValue(() => getPaddleService(clients, ns.name, 'ernie'), (ps) => condition(ps, 'CertificateReady')?.status === 'True', CONVERGE_TIMEOUT_MS, 'CertificateReady=True');
    assert.equal(condition(certReady, 'Ready')?.status, 'False', 'not Ready before any pod reports a verified model');

    // gpu.yaml's matrix layout (5 sequence-length edges): reports with another layout are not summed.
    const report = () =>
      reportFromAllPods(clients, ns.name, 'ernie', {
        matrix: { gpuMemoryBucketMB: 1024, latencyBucketMs: 5, seqLenEdges: [128, 256, 512, 1024, 2048], total: 200, cells: [{ s: 1, d: 2, l: 0, count: 200 }] },
      });
    await report();
    let reportedAt = Date.now();
    // The operator may fold the two reports in two reconciles, and replicasSummary follows the
    // Deployment's status (kube-controller-manager): wait for every field asserted below. The
    // pods report again every 5 s meanwhile, as sidecars do: a report 30 s old is stale and
    // pruned, which a slow machine could otherwise reach before the rest is there.
    const ready = await waitForValue(
      async () => {
        if (Date.now() - reportedAt > 5_000) {
          await report();
          reportedAt = Date.now();
        }
        return getPaddleService(clients, ns.name, 'ernie');
      },
      (ps) =>
        condition(ps, 'Ready')?.status === 'True' &&
        ps.status?.matrix?.total === 400 &&
        ps.status?.replicasSummary === '2/2' &&
        ps.status?.latency?.p95Ms === 12 &&
        ps.status?.observedGeneration === ps.metadata.generation,
      CONVERGE_TIMEOUT_MS,
      'Ready=True after reports, both reports folded (matrix 400), 2/2 replicas',
    );
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
      CONVERGE_TIMEOUT_MS,
      'a Ready Event',
    );
  });

  it('spec change rolls into the children; a hand edit is restored; delete collects every child', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'mnist'));
    const first = await waitForValue(() => getPaddleService(clients, ns.name, 'mnist'), (ps) => ps.status?.observedGeneration === 1, CONVERGE_TIMEOUT_MS, 'observedGeneration 1');
    assert.equal(first.metadata.generation, 1);
    await waitForValue(() => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'mnist' }), () => true, CONVERGE_TIMEOUT_MS, 'Deployment');

    // Spec change: threads 1 -> 3, memory 2048 -> 1024.
    await mergePatchPaddleService(clients, ns.name, 'mnist', { spec: { runtime: { cpuThreads: 3, maxMemoryMB: 1024 } } });
    const env = (d: V1Deployment, name: string) => d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === name)?.value;
    const updated = await waitForValue(
      () => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'mnist' }),
      (d) => env(d, 'PADDLE_CPU_THREADS') === '3' && d.spec?.template.spec?.containers[0]?.resources?.limits?.memory === '1Gi',
      CONVERGE_TIMEOUT_MS,
      'Deployment with 3 threads and 1Gi',
    );
    assert.equal(env(updated, 'OMP_NUM_THREADS'), '3');
    await waitForValue(() => getPaddleService(clients, ns.name, 'mnist'), (ps) => ps.status?.observedGeneration === 2, CONVERGE_TIMEOUT_MS, 'observedGeneration 2');

    // Hand edit: someone raises the memory limit and changes replicas behind the operator's back.
    await kubectl(['-n', ns.name, 'patch', 'deployment', 'mnist', '--type', 'json', '-p',
      JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/resources/limits/memory', value: '9Gi' }, { op: 'replace', path: '/spec/replicas', value: 3 }])]);
    await waitForValue(
      () => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'mnist' }),
      (d) => d.spec?.template.spec?.containers[0]?.resources?.limits?.memory === '1Gi' && d.spec?.replicas === 1,
      CONVERGE_TIMEOUT_MS,
      'the hand edit to be reverted',
    );

    // Delete: the garbage collector removes every child through the owner references.
    await deleteObject(clients.objects, { apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService', metadata: { name: 'mnist', namespace: ns.name } });
    await waitFor(async () => {
      const left: string[] = [];
      for (const [apiVersion, kind, , nameOf] of CHILD_KINDS) if (await readChild(clients, apiVersion, kind, ns.name, nameOf('mnist'))) left.push(kind);
      return { done: left.length === 0, seen: left };
    }, CONVERGE_TIMEOUT_MS, 'every child to be garbage-collected');
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
      CONVERGE_TIMEOUT_MS,
      'an unschedulable pod',
    );
    assert.match(pods[0]?.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message ?? '', /Insufficient nvidia.com\/gpu/);
    const ps = await waitForValue(() => getPaddleService(clients, ns.name, 'huge'), (p) => condition(p, 'Ready')?.reason === 'DeploymentUnavailable', CONVERGE_TIMEOUT_MS, 'Ready=False/DeploymentUnavailable');
    assert.equal(condition(ps, 'Ready')?.status, 'False');
  });

  it('missing public-key Secret: Ready=False with reason and one Event, and few API calls while missing', async () => {
    await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'nokey'));
    // Let the rest settle (Certificate issued, pods Running) so only the blocker remains.
    const ps = await waitForValue(
      () => getPaddleService(clients, ns.name, 'nokey'),
      (p) => condition(p, 'Ready')?.reason === 'PublicKeySecretMissing' && condition(p, 'CertificateReady')?.status === 'True' && condition(p, 'Available')?.status === 'True',
      CONVERGE_TIMEOUT_MS,
      'Ready=False/PublicKeySecretMissing with the rest settled',
    );
    assert.equal(condition(ps, 'Ready')?.status, 'False');
    assert.match(condition(ps, 'Ready')?.message ?? '', new RegExp(`${ns.name}/model-signing-key`));
    // The Event is written in the background after the status that records the transition.
    await waitForValue(
      async () => (await clients.core.listNamespacedEvent({ namespace: ns.name, fieldSelector: 'involvedObject.kind=PaddleService,involvedObject.name=nokey' })).items,
      (items) => items.some((e) => e.reason === 'PublicKeySecretMissing'),
      CONVERGE_TIMEOUT_MS,
      'the PublicKeySecretMissing Event',
    );

    // Everything the reconciles so far decided has reached the API server; from here, compare.
    await waitUntilIdle(op);
    const gets0 = await op.metric('paddle_operator_api_requests_total', { verb: 'get', resource: 'secrets' });
    const before = await writeFingerprint(clients, ns.name, 'nokey');
    // An observation window (a count over a period, not a wait for a state): a slower machine
    // makes fewer checks in it, never more.
    await new Promise((r) => setTimeout(r, 20_000));
    const gets = (await op.metric('paddle_operator_api_requests_total', { verb: 'get', resource: 'secrets' })) - gets0;
    // Backoff doubles from 0.5 s (capped at 60 s) and this suite resyncs every 5 s: a handful of
    // checks in 20 s, and no status writes (nothing changed).
    assert.ok(gets <= 8, `secret GETs in 20 s while missing: ${gets}`);
    assert.deepEqual(await writeFingerprint(clients, ns.name, 'nokey'), before, 'no writes (status, children, Events) while nothing changes');
    const events = (await clients.core.listNamespacedEvent({ namespace: ns.name, fieldSelector: 'involvedObject.kind=PaddleService,involvedObject.name=nokey' })).items;
    assert.equal(events.filter((e) => e.reason === 'PublicKeySecretMissing').length, 1, 'one Event, not one per retry');

    // The Secret appears: the operator notices on its next backoff step.
    await createSigningKeySecret(clients, ns.name);
    await waitForValue(() => getPaddleService(clients, ns.name, 'nokey'), (p) => condition(p, 'Ready')?.reason !== 'PublicKeySecretMissing', CONVERGE_TIMEOUT_MS, 'the blocker to clear');
  });

  it('a converged PaddleService: children applied once, and resyncs write nothing', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'steady'));
    // Both asynchronous inputs settle first (the Deployment and cert-manager's Certificate):
    // a status change they cause after the fingerprint is a real write, not a resync's.
    await waitForValue(
      () => getPaddleService(clients, ns.name, 'steady'),
      (p) => condition(p, 'Available')?.status === 'True' && condition(p, 'CertificateReady')?.status === 'True',
      CONVERGE_TIMEOUT_MS,
      'Available=True and CertificateReady=True',
    );
    const d = await clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'steady' });
    assert.equal(d.metadata?.generation, 1, 'the Deployment spec was written once');
    // The reconcile that wrote that status records its Ready transition's Event in the
    // background: wait until the operator is idle, so only later writes are counted.
    await waitUntilIdle(op);
    const before = await writeFingerprint(clients, ns.name, 'steady');
    const resyncs0 = await op.metric('paddle_operator_reconcile_total');
    const start = Date.now();
    // At least two resync periods (5 s in this suite) and at least two reconciles in them.
    await waitFor(async () => {
      const reconciles = (await op.metric('paddle_operator_reconcile_total')) - resyncs0;
      return { done: Date.now() - start >= 12_000 && reconciles >= 2, seen: { reconciles, ms: Date.now() - start } };
    }, CONVERGE_TIMEOUT_MS, 'two resync periods with reconciles in them', { intervalMs: 500 });
    assert.deepEqual(await writeFingerprint(clients, ns.name, 'steady'), before, 'no writes on no-op resync');
  });
});

