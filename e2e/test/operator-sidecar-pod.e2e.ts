// The operator with a real sidecar process as its model pod (what `make demo` shows, as a test):
// the operator runs from the e2e harness, a PaddleService asks for one CPU pod serving the
// signed transformer fixture, the real scheduler places the pod on a kwok node, and a real
// sidecar process plays that pod on loopback (e2e/src/sidecar-pod.ts: the pod's volumes, env
// and ServiceAccount token, read from the API). Real HTTPS inference requests of three sequence
// lengths go to it; its pod report must reach the PaddleService status (latency, the matrix
// with each request in its sequence-length bucket, device, the digest of the files it loaded,
// ModelVerified and Ready) and `kubectl get psvc` must print it. Then the process stops, its
// report goes stale, the operator prunes it and Ready drops.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { Condition, PaddleService } from '../../crds/src/index.js';
import { REPO_ROOT, createObject, createTestNamespace, deleteTestNamespace, kubectl, makeClients, waitFor, waitForValue, type Clients } from '../src/index.js';
import { startSidecarForPod, type SidecarPod, type SidecarResponse } from '../src/sidecar-pod.js';
import {
  CONVERGE_TIMEOUT_MS,
  E2E_ISSUER,
  STARTUP_TIMEOUT_MS,
  createPaddleService,
  getPaddleService,
  startOperator,
  waitUntilLeading,
  type OperatorProcess,
} from '../../operator/test/e2e/harness.js';

const NAME = 'encoder';
const MODEL_DIR = join(REPO_ROOT, 'native/fixtures/models/transformer/legacy');
const PUBLIC_KEY = join(REPO_ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem');
/** Sequence-length bucket edges: [0,32) -> l 0, [32,128) -> l 1, [128,...) -> l 2. */
const SEQ_LEN_EDGES = [32, 128];
/** Requests per sequence length (the fixture's position table allows S <= 128), and the L bucket each lands in. */
const TRAFFIC: Array<{ seqLen: number; count: number; bucket: number }> = [
  { seqLen: 16, count: 12, bucket: 0 },
  { seqLen: 64, count: 10, bucket: 1 },
  { seqLen: 128, count: 8, bucket: 2 },
];
const SENT = TRAFFIC.reduce((n, t) => n + t.count, 0);

/** SHA-256 of the sha256sum-style manifest of the model files (signature files excluded). */
function manifestDigest(dir: string): string {
  const names = readdirSync(dir)
    .filter((f) => !/^signature(\..+)?\.json$/.test(f))
    .sort();
  const manifest = names.map((n) => `${createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')}  ${n}\n`).join('');
  return createHash('sha256').update(manifest).digest('hex');
}

function condition(ps: PaddleService, type: string): Condition | undefined {
  return ps.status?.conditions?.find((c) => c.type === type);
}

/** kubectl's table output as rows of header -> cell (cells sliced at the header columns). */
function parseTable(text: string): Array<Record<string, string>> {
  const [header, ...rows] = text.split('\n').filter((l) => l.trim() !== '');
  if (!header) return [];
  const cols = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index ?? 0 }));
  return rows.map((row) =>
    Object.fromEntries(cols.map((c, i) => [c.name, row.slice(c.start, i + 1 < cols.length ? cols[i + 1]?.start : undefined).trim()])),
  );
}

function paddleService(): PaddleService {
  return {
    apiVersion: 'serving.paddle.io/v1alpha1',
    kind: 'PaddleService',
    metadata: { name: NAME },
    spec: {
      replicas: 1,
      model: {
        name: NAME,
        format: 'pdmodel',
        // kwok mounts nothing: the sidecar reads MODEL_DIR where the kubelet would mount this.
        source: { configMap: { name: `${NAME}-model` } },
        verification: { required: true, publicKeySecretRef: { name: 'model-signing-key', key: 'public.pem' } },
      },
      runtime: { backend: 'builtin', device: 'cpu', cpuThreads: 1, maxMemoryMB: 512 },
      tls: { issuerRef: E2E_ISSUER },
      auth: {
        enabled: false,
        policies: [
          // The sidecar names OIP inference by its route; were this policy not applied, the
          // requests below would share /v1/predict's 5 per minute and get 429.
          { path: '/v2/models/{model}/infer', domain: 'model_inference', callsPerMinute: 60_000 },
          { path: '/v1/predict', domain: 'model_inference', callsPerMinute: 5 },
          // Default-deny: every protected route needs its policy, or the API server refuses the spec.
          { path: '/v1/encrypt_input', domain: 'data_protection', callsPerMinute: 20 },
          { path: '/v1/export_model', domain: 'model_admin', callsPerMinute: 5 },
        ],
      },
      observability: { reportIntervalSeconds: 1, reportHeartbeatSeconds: 5, matrix: { seqLenEdges: SEQ_LEN_EDGES } },
    },
  } as PaddleService;
}

// Every wait is bounded by STARTUP/CONVERGE_TIMEOUT_MS (a hang, not an expected duration); the
// mocha timeouts are above the sum of one test's or hook's waits.
describe('operator + a real sidecar process as the model pod', function () {
  this.timeout(600_000);
  let clients: Clients;
  let op: OperatorProcess | undefined;
  let sidecar: SidecarPod | undefined;
  let ns = '';
  let podName = '';
  const digest = manifestDigest(MODEL_DIR);

  const dumpOnFailure = (err: unknown): never => {
    const logs = [
      `sidecar output (last 3000 chars):\n${sidecar?.output().slice(-3000) ?? '(not started)'}`,
      `operator log (last 15 lines):\n${op?.logs.slice(-15).join('\n') ?? '(not started)'}`,
    ];
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${logs.join('\n')}`);
  };

  before(async function () {
    this.timeout(1_500_000);
    clients = makeClients();
    op = await startOperator({ identity: 'e2e-sidecar-pod', leaseName: 'e2e-sidecar-pod', extraArgs: ['--resync-seconds', '5'] });
    await waitUntilLeading(op);
    ns = await createTestNamespace(clients, 'sidecar-pod');
    await createObject(clients.objects, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'model-signing-key', namespace: ns }, stringData: { 'public.pem': readFileSync(PUBLIC_KEY, 'utf8') } });
    await createPaddleService(clients, ns, paddleService());

    // The real scheduler binds the operator's pod to a kwok node; kwok reports it Running.
    const pod = await waitForValue(
      async () => (await clients.core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${NAME}` })).items,
      (pods: V1Pod[]) => pods.length === 1 && pods[0]?.status?.phase === 'Running' && Boolean(pods[0]?.spec?.nodeName),
      CONVERGE_TIMEOUT_MS,
      'one Running model pod on a kwok node',
    ).catch(dumpOnFailure);
    podName = pod[0]?.metadata?.name ?? '';
    sidecar = await startSidecarForPod({ clients, namespace: ns, pod: podName, modelDir: MODEL_DIR }).catch(dumpOnFailure);
  });

  after(async function () {
    this.timeout(180_000);
    await sidecar?.dispose();
    await op?.stop();
    if (ns && !process.env.E2E_KEEP_NAMESPACES) await deleteTestNamespace(clients, ns);
  });

  it('the sidecar plays the pod: verified model, HTTPS with the issued certificate, the operator-rendered config', async () => {
    assert.ok(sidecar);
    assert.equal(sidecar.tls, true, 'the pod mounts the TLS Secret, so the sidecar serves HTTPS');
    assert.deepEqual(sidecar.config.matrix.seqLenEdges, SEQ_LEN_EDGES, 'the ConfigMap carries the spec matrix layout');
    assert.equal(sidecar.config.reportIntervalSeconds, 1);
    await waitFor(async () => {
      const r = await sidecar?.request('GET', '/v2/health/ready');
      return { done: r?.status === 200, seen: r };
    }, STARTUP_TIMEOUT_MS, 'the sidecar to be ready').catch(dumpOnFailure);
    const loaded = sidecar
      .output()
      .split('\n')
      .flatMap((l) => {
        try {
          const rec = JSON.parse(l) as { message?: string; digest?: string; verified?: boolean };
          return rec.message === 'model loaded' ? [rec] : [];
        } catch {
          return [];
        }
      })[0];
    assert.equal(loaded?.digest, digest, 'the sidecar loaded the fixture files');
    assert.equal(loaded?.verified, true);
  });

  it(`answers ${SENT} real inference requests of three sequence lengths`, async () => {
    assert.ok(sidecar);
    for (const t of TRAFFIC) {
      for (let i = 0; i < t.count; i++) {
        const tokens = Array.from({ length: t.seqLen }, (_, j) => (j * 37 + i * 11 + t.seqLen) % 1000);
        const res: SidecarResponse = await sidecar.request('POST', `/v2/models/${NAME}/infer`, { id: `s${t.seqLen}-${i}`, inputs: [{ name: 'tokens', datatype: 'INT64', shape: [1, t.seqLen], data: tokens }] });
        assert.equal(res.status, 200, `S=${t.seqLen} request ${i}: ${res.body.slice(0, 300)}`);
        const body = JSON.parse(res.body) as { id?: string; outputs?: Array<{ name: string; shape: number[]; data: number[] }> };
        assert.equal(body.id, `s${t.seqLen}-${i}`);
        const hidden = body.outputs?.find((o) => o.shape.length === 3);
        assert.deepEqual(hidden?.shape, [1, t.seqLen, 128], 'the encoder output follows the sequence length');
        assert.ok(hidden?.data.every((v) => Number.isFinite(v)));
      }
    }
  });

  it('the PaddleService status folds the report: latency, matrix by sequence length, device, digest, ModelVerified and Ready', async () => {
    const ps = await waitForValue(
      () => getPaddleService(clients, ns, NAME),
      (p) => {
        const perBucket = (l: number) => (p.status?.matrix?.cells ?? []).filter((c) => c.l === l).reduce((n, c) => n + c.count, 0);
        return (
          TRAFFIC.every((t) => perBucket(t.bucket) >= t.count) &&
          (p.status?.latency?.p95Ms ?? 0) > 0 &&
          condition(p, 'Ready')?.status === 'True' &&
          condition(p, 'ModelVerified')?.status === 'True' &&
          // from the Deployment's status, which kube-controller-manager writes on its own time
          p.status?.replicasSummary === '1/1'
        );
      },
      CONVERGE_TIMEOUT_MS,
      `status with every request in its matrix bucket, latency, ModelVerified, Ready and 1/1 replicas (pod ${podName})`,
    ).catch(dumpOnFailure);
    const st = ps.status;
    assert.ok(st);

    const report = st.podReports?.[podName];
    assert.ok(report, `status.podReports.${podName}`);
    assert.equal(report.ready, true);
    assert.equal(report.model.verified, true);
    assert.equal(report.requests.errors, 0);
    assert.ok(report.requests.total >= SENT, `the pod counted ${report.requests.total} requests, ${SENT} sent`);

    const lat = st.latency;
    assert.ok(lat && lat.p50Ms !== undefined && lat.p95Ms !== undefined && lat.p99Ms !== undefined, JSON.stringify(lat));
    assert.ok(lat.p50Ms > 0 && lat.p50Ms <= lat.p95Ms && lat.p95Ms <= lat.p99Ms, `quantiles in order: ${JSON.stringify(lat)}`);
    assert.ok((lat.samples ?? 0) >= SENT, `samples ${lat.samples} >= ${SENT}`);

    const m = st.matrix;
    assert.ok(m);
    assert.deepEqual(m.seqLenEdges, SEQ_LEN_EDGES);
    const cellSum = m.cells.reduce((n, c) => n + c.count, 0);
    assert.equal(cellSum, m.total, 'the cells add up to the total');
    assert.ok(m.total >= SENT, `matrix total ${m.total} >= ${SENT}`);
    for (const t of TRAFFIC) {
      const inBucket = m.cells.filter((c) => c.l === t.bucket).reduce((n, c) => n + c.count, 0);
      assert.ok(inBucket >= t.count, `L bucket ${t.bucket} (S=${t.seqLen}) holds ${inBucket} >= ${t.count}`);
    }
    assert.ok(m.cells.every((c) => c.l >= 0 && c.l <= SEQ_LEN_EDGES.length && c.s === 0), `cells on a CPU pod: ${JSON.stringify(m.cells)}`);

    assert.equal(st.device, 'cpu');
    assert.equal(report.device, 'cpu');
    assert.equal(st.model?.digest, digest, 'the digest of the files the sidecar loaded');
    assert.equal(st.model?.keyId, JSON.parse(readFileSync(join(MODEL_DIR, 'signature.json'), 'utf8')).keyId);
    assert.equal(st.model?.verified, true);
    assert.equal(condition(ps, 'ModelVerified')?.reason, 'Verified');
    assert.equal(condition(ps, 'Ready')?.reason, 'Serving');
    assert.equal(st.replicasSummary, '1/1');
    assert.doesNotMatch(sidecar?.output() ?? '', /pod report patch failed/, 'every report went through with the pod ServiceAccount token');
    assert.ok((st.opProfile ?? []).length > 0 && st.opProfile?.every((o) => o.totalMs > 0), `op profile: ${JSON.stringify(st.opProfile)}`);
  });

  it('kubectl get psvc prints Ready True, the device, the replicas and the P95', async () => {
    // The sidecar reports every second and the operator folds each report: the P95 column and a
    // read of the status are compared from the same moment (the status read before and after
    // the table agree), not across a report.
    let p95Status: number | undefined;
    const table = await waitForValue(
      async () => {
        const before = (await getPaddleService(clients, ns, NAME)).status?.latency?.p95Ms;
        const rows = parseTable((await kubectl(['-n', ns, 'get', 'psvc', NAME])).stdout);
        const after = (await getPaddleService(clients, ns, NAME)).status?.latency?.p95Ms;
        p95Status = before === after ? after : undefined;
        return rows;
      },
      (rows) => rows[0]?.READY === 'True' && p95Status !== undefined,
      CONVERGE_TIMEOUT_MS,
      'kubectl get psvc to show Ready True (between two equal reads of status.latency.p95Ms)',
    );
    const row = table[0];
    assert.ok(row);
    assert.equal(row.NAME, NAME);
    assert.equal(row.REASON, 'Serving');
    assert.equal(row.DEVICE, 'cpu');
    assert.equal(row.REPLICAS, '1/1');
    assert.equal(row.BREAKER, 'closed');
    const p95 = Number(row.P95);
    assert.ok(Number.isFinite(p95) && p95 > 0, `P95 column ${JSON.stringify(row.P95)}`);
    assert.equal(p95, p95Status, 'the P95 column is status.latency.p95Ms');

    const wide = parseTable((await kubectl(['-n', ns, 'get', 'psvc', NAME, '-o', 'wide'])).stdout)[0];
    assert.equal(wide?.MODEL, NAME);
    assert.equal(wide?.BACKEND, 'builtin');
    assert.equal(wide?.DIGEST, digest);
  });

  it('after the process stops, its report goes stale, is pruned, and Ready is no longer True', async () => {
    assert.ok(sidecar);
    const before = await getPaddleService(clients, ns, NAME);
    const lastReport = Date.parse(before.status?.podReports?.[podName]?.reportedAt ?? '');
    assert.ok(Number.isFinite(lastReport));
    await sidecar.stop();
    assert.ok(sidecar.child.exitCode !== null || sidecar.child.signalCode !== null, 'the sidecar process is gone');
    // Stale after max(30 s, the heartbeat + 2 report intervals); the operator requeues itself for that moment.
    const ps = await waitForValue(
      () => getPaddleService(clients, ns, NAME),
      (p) => p.status?.podReports?.[podName] === undefined && condition(p, 'Ready')?.status !== 'True',
      CONVERGE_TIMEOUT_MS,
      `the report of ${podName} pruned and Ready dropped`,
    ).catch(dumpOnFailure);
    assert.ok(Date.now() - lastReport >= 30_000, 'pruned only once stale (30 s without a report)');
    assert.equal(condition(ps, 'Ready')?.status, 'False');
    assert.equal(condition(ps, 'Ready')?.reason, 'AwaitingVerifiedPods');
    assert.equal(condition(ps, 'ModelVerified')?.status, 'Unknown', 'no report left to vouch for the model');
    assert.equal(ps.status?.latency, undefined, 'no latency without a live report');
    const row = parseTable((await kubectl(['-n', ns, 'get', 'psvc', NAME])).stdout)[0];
    assert.equal(row?.READY, 'False');
    assert.equal(row?.REASON, 'AwaitingVerifiedPods');
  });
});
