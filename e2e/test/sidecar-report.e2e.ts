// The sidecar's pod report against the real kube-apiserver: merge patches land in
// status.podReports.<pod> through the status subresource, pass the CRD's status schema, leave
// other pods' reports alone, and the real sidecar process (main.ts, KUBECONFIG credentials)
// patches on its own interval, an unchanged report once per heartbeat.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type PaddleService, type PodReport } from '../../crds/src/types.js';
import { buildPodReport, PodReportPatcher } from '../../sidecar/src/pod-report.js';
import { REPO_ROOT, createObject, kubeconfigPath, makeClients, useTestNamespace, waitForValue, type Clients } from '../src/index.js';

function paddleService(name: string): PaddleService {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'PaddleService',
    metadata: { name },
    spec: { model: { name: 'mlp', source: { pvc: { claimName: 'models', subPath: 'mlp/v1' } }, verification: { required: false } }, tls: { enabled: false }, auth: { enabled: false } },
  } as PaddleService;
}

function sampleReport(p95: number, cells: number): PodReport {
  return buildPodReport({
    now: new Date(),
    ready: true,
    selfCheckPassed: true,
    info: { format: 'pdmodel', backend: 'builtin', backendVersion: 'builtin-0.1.0', verified: true, digest: 'a'.repeat(64), keyId: 'k1', algorithm: 'RSA-PKCS1v15-SHA256', verifiedAt: new Date().toISOString(), parameterBytes: 1000 },
    device: 'cpu',
    mode: 'normal',
    latenciesMs: Array.from({ length: 100 }, (_, i) => (i + 1) * (p95 / 95)),
    baselineP95Ms: p95 * 0.9,
    requests: { total: 100, errors: 2 },
    matrix: { gpuMemoryBucketMB: 1024, latencyBucketMs: 5, seqLenEdges: [128, 256], total: cells, cells: Array.from({ length: cells }, (_, d) => ({ s: 0, d, l: 0, count: 1 })) },
    stats: { runs: 100, failures: 0, opTimesMs: { matmul_v2: 12.5, relu: 1.25 }, memory: { arenaBytes: 0, parameterBytes: 1000 } },
    breaker: { state: 'closed', trips: 0, treatmentState: 'closed' },
  });
}

async function readStatus(clients: Clients, namespace: string, name: string): Promise<PaddleService> {
  return (await clients.custom.getNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name })) as PaddleService;
}

describe('sidecar pod report on the API server', function () {
  this.timeout(600_000);
  let clients: Clients;
  before(() => {
    clients = makeClients();
  });
  const ns = useTestNamespace(() => clients, 'sidecar');

  it('merge-patches status.podReports.<pod> and keeps the other pods reports', async () => {
    await createObject(clients.objects, { ...paddleService('svc'), metadata: { name: 'svc', namespace: ns.name } });
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath());
    const a = new PodReportPatcher(kc, { namespace: ns.name, serviceName: 'svc', podName: 'svc-pod-a' });
    const b = new PodReportPatcher(kc, { namespace: ns.name, serviceName: 'svc', podName: 'svc-pod-b' });
    await a.patch(sampleReport(20, 3));
    await b.patch({ ...sampleReport(40, 1), device: 'gpu', mode: 'cpu-fallback', gpu: { memoryUsedBytes: 71_000_000_000, memoryTotalBytes: 80_000_000_000, utilization: 0.93 } });
    await a.patch(sampleReport(25, 4)); // a's second report replaces only a's entry
    const got = await readStatus(clients, ns.name, 'svc');
    const reports = got.status?.podReports ?? {};
    assert.deepEqual(Object.keys(reports).sort(), ['svc-pod-a', 'svc-pod-b']);
    assert.equal(reports['svc-pod-a']?.matrix.total, 4);
    assert.equal(reports['svc-pod-a']?.matrix.cells.length, 4);
    assert.equal(reports['svc-pod-b']?.latency.p95Ms, 40);
    assert.equal(reports['svc-pod-b']?.gpu?.memoryUsedBytes, 71_000_000_000);
    assert.equal(reports['svc-pod-b']?.mode, 'cpu-fallback');
    assert.equal(reports['svc-pod-a']?.latency.p95Ms, 25);
    assert.deepEqual(reports['svc-pod-a']?.opProfile.map((o) => o.op), ['matmul_v2', 'relu']);
    assert.equal(reports['svc-pod-a']?.model.digest, 'a'.repeat(64));
    assert.equal(got.spec.model.name, 'mlp', 'the status patch did not touch the spec');
  });

  it('the real sidecar process patches its report on its interval (KUBECONFIG credentials)', async () => {
    await createObject(clients.objects, { ...paddleService('live'), metadata: { name: 'live', namespace: ns.name } });
    const dir = mkdtempSync(join(tmpdir(), 'sidecar-e2e-'));
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ version: 1, model: { name: 'mlp' }, auth: { enabled: false }, reportIntervalSeconds: 1, reportHeartbeatSeconds: 3 }));
    let child: ChildProcess | undefined;
    let output = '';
    try {
      child = spawn(
        process.execPath,
        ['--import', 'tsx', join(REPO_ROOT, 'sidecar/src/main.ts'), '--no-tls', '--port', '0', '--metrics-port', '0', '--health-port', '0', '--host', '127.0.0.1',
          '--model-dir', join(REPO_ROOT, 'native/fixtures/models/mlp/legacy'), '--public-key', join(REPO_ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem'), '--config', configFile],
        { cwd: REPO_ROOT, env: { ...process.env, KUBECONFIG: kubeconfigPath(), POD_NAME: 'live-pod-0', POD_NAMESPACE: ns.name, PADDLESERVICE_NAME: 'live' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      const first = await waitForValue(
        () => readStatus(clients, ns.name, 'live'),
        (ps) => ps.status?.podReports?.['live-pod-0'] !== undefined,
        180_000, // tsx compiles the sidecar first: a bound on a hang, not an expected duration
        'the sidecar report in status.podReports.live-pod-0',
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\nsidecar output:\n${output.slice(-3000)}`);
      });
      const rep = first.status?.podReports?.['live-pod-0'];
      assert.ok(rep);
      assert.equal(rep.ready, true);
      assert.equal(rep.model.verified, true);
      assert.match(rep.model.digest ?? '', /^[0-9a-f]{64}$/);
      assert.equal(rep.device, 'cpu');
      assert.equal(rep.mode, 'normal');
      assert.equal(rep.breaker.state, 'closed');
      // Reports keep coming; an idle sidecar's report does not change, so it looks every second
      // (reportIntervalSeconds) but writes once per heartbeat (reportHeartbeatSeconds: 3).
      const seen = [Date.parse(rep.reportedAt)];
      await waitForValue(
        () => readStatus(clients, ns.name, 'live'),
        (ps) => {
          const at = Date.parse(ps.status?.podReports?.['live-pod-0']?.reportedAt ?? '0');
          if (at > (seen.at(-1) ?? 0)) seen.push(at);
          return seen.length >= 4;
        },
        120_000,
        'three newer reports',
        { intervalMs: 100 },
      );
      // reportedAt is stamped when the report is built, a little before the write's clock reading
      // the heartbeat counts from: 2.5 s leaves room for a slow build on a loaded machine, and
      // writes every interval would give gaps of about 1 s.
      const gaps = seen.slice(1).map((at, i) => at - (seen[i] ?? 0));
      assert.ok(gaps.every((g) => g >= 2500), `an unchanged report is written once per 3 s heartbeat, not every 1 s interval (gaps ${gaps.join(', ')} ms)`);
      assert.match(output, /"message":"serving"/);
      assert.doesNotMatch(output, /pod report patch failed/);
    } finally {
      // Gone before the namespace goes, so no report lands in a namespace being deleted.
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child?.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child?.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
    }
  });
});
