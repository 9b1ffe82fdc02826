// The breaker baseline keeps learning, against the real API server: two pods (kwok) each run
// the sidecar's real CircuitBreaker, fed sampling windows of a given latency; they report what
// they measured through the sidecar's PodReportPatcher (status subresource, stamped with their
// pod template) and apply the baseline the operator publishes in their ConfigMap, as the config
// hot reload does. When the fleet's latency moves from 10 ms to 40 ms the published baseline
// follows it, in bounded steps, instead of freezing at the first value.
import assert from 'node:assert/strict';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { defaultSidecarConfig } from '../../sidecar/src/config.js';
import { CircuitBreaker } from '../../sidecar/src/breaker.js';
import { buildPodReport, PodReportPatcher } from '../../sidecar/src/pod-report.js';
import { kubeconfigPath, makeClients, useTestNamespace, waitFor, waitForValue, type Clients } from '../src/index.js';
import { createPaddleService, createSigningKeySecret, e2eExample, getPaddleService, startOperator, type OperatorProcess } from '../../operator/test/e2e/harness.js';

const TEMPLATE_LABEL = 'serving.paddle.io/template-hash';

interface SimPod {
  name: string;
  breaker: CircuitBreaker;
  patcher: PodReportPatcher;
}

describe('operator: the published breaker baseline follows the fleet', function () {
  this.timeout(240_000);
  let clients: Clients;
  let op: OperatorProcess;
  before(async function () {
    this.timeout(90_000);
    clients = makeClients();
    // One move every 2 s (60 s in production) so the e2e sees several.
    op = await startOperator({ identity: 'e2e-baseline', leaseName: 'e2e-baseline', extraArgs: ['--baseline-tune-interval-seconds', '2'] });
    await waitFor(async () => (await op.metric('paddle_operator_leader')) === 1, 30_000, 'the operator to lead');
  });
  after(async () => {
    await op?.stop();
  });
  const ns = useTestNamespace(() => clients, 'opbase');

  it('pods report their own rolling P95 history; the published baseline moves 10 -> 40 ms in steps of at most x1.5', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'learner', (ps) => {
      ps.spec.replicas = 2;
    }));
    const pods = await waitForValue(
      async () => (await clients.core.listNamespacedPod({ namespace: ns.name, labelSelector: 'app.kubernetes.io/instance=learner' })).items,
      (items: V1Pod[]) => items.length === 2 && items.every((p) => p.status?.phase === 'Running' && p.metadata?.labels?.[TEMPLATE_LABEL]),
      90_000,
      'two Running pods of the current template',
    );
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath());
    const config = defaultSidecarConfig('mlp').breaker;
    const sims: SimPod[] = pods.map((p) => {
      const name = p.metadata?.name ?? '';
      return {
        name,
        breaker: new CircuitBreaker({ group: 'control', config, probe: async () => ({ ok: true, latencyMs: 1 }) }),
        patcher: new PodReportPatcher(kc, { namespace: ns.name, serviceName: 'learner', podName: name, templateHash: p.metadata?.labels?.[TEMPLATE_LABEL] ?? '' }),
      };
    });

    const published = async (): Promise<number | undefined> => {
      const cm = await clients.core.readNamespacedConfigMap({ namespace: ns.name, name: 'learner-config' });
      return (JSON.parse(cm.data?.['config.json'] ?? '{}') as { breaker?: { baselineP95Ms?: number } }).breaker?.baselineP95Ms;
    };
    // One round: each pod serves `windows` sampling windows at `latencyMs`, reports, and applies
    // whatever the operator published (the config hot reload).
    const round = async (latencyMs: number, windows: number): Promise<number | undefined> => {
      for (const s of sims) {
        for (let w = 0; w < windows; w++) {
          for (let i = 0; i < 100; i++) s.breaker.record(latencyMs * (0.9 + (i % 10) / 50), true);
          s.breaker.closeWindow();
        }
        const latenciesMs = Array.from({ length: 100 }, () => latencyMs);
        await s.patcher.patch(
          buildPodReport({
            now: new Date(),
            ready: true,
            selfCheckPassed: true,
            info: { format: 'pdmodel', backend: 'builtin', backendVersion: '1', verified: true, digest: 'a'.repeat(64), keyId: 'k', algorithm: 'RSA-PKCS1v15-SHA256', verifiedAt: new Date().toISOString(), parameterBytes: 1 },
            device: 'cpu',
            mode: 'normal',
            latenciesMs,
            baselineP95Ms: s.breaker.measuredBaselineP95Ms(),
            requests: { total: 100, errors: 0 },
            matrix: { gpuMemoryBucketMB: 1024, latencyBucketMs: 5, seqLenEdges: [128, 256, 512, 1024, 2048, 4096], total: 0, cells: [] },
            stats: undefined,
            breaker: { state: 'closed', trips: 0, treatmentState: 'closed' },
          }),
        );
      }
      const b = await published();
      if (b !== undefined) for (const s of sims) s.breaker.setConfig({ ...config, baselineP95Ms: b });
      return b;
    };

    // Phase 1: the fleet serves at ~10 ms; the operator publishes what it measured.
    await waitFor(async () => {
      const b = await round(10, 3);
      return { done: b !== undefined && Math.abs(b - 10) <= 1, seen: b };
    }, 60_000, 'a published baseline of ~10 ms', { intervalMs: 500 });
    for (const s of sims) assert.equal(s.breaker.baselineP95Ms(), (await published()) ?? -1, 'the pods apply the published baseline');

    // Phase 2: the fleet slows to ~40 ms and stays there. The pods keep reporting what they
    // measure (never the published value), so the published baseline follows.
    const seen: number[] = [(await published()) ?? 0];
    await waitFor(async () => {
      const b = (await round(40, 3)) ?? 0;
      if (b !== seen.at(-1)) seen.push(b);
      return { done: b >= 36, seen };
    }, 120_000, 'the published baseline to follow the fleet to ~40 ms', { intervalMs: 500 });
    for (let i = 1; i < seen.length; i++) {
      const prev = seen[i - 1] ?? 0;
      assert.ok((seen[i] ?? 0) <= prev * 1.5 + 0.1, `one move at most x1.5: ${prev} -> ${seen[i]} (moves: ${seen.join(' -> ')})`);
    }
    assert.ok(seen.length >= 3, `several bounded moves, not one jump: ${seen.join(' -> ')}`);
    const ps = await waitForValue(() => getPaddleService(clients, ns.name, 'learner'), (p) => (p.status?.breaker?.thresholds?.p95Ms ?? 0) >= 36 * 1.8, 60_000, 'thresholds.p95Ms follows');
    assert.ok(ps.status?.breaker?.tunedAt, 'status.breaker.tunedAt records the last move');
    const events = await waitForValue(
      async () => (await clients.core.listNamespacedEvent({ namespace: ns.name, fieldSelector: 'involvedObject.name=learner' })).items.filter((e) => e.reason === 'BreakerTuned'),
      (items) => items.length >= 1,
      60_000,
      'BreakerTuned Events',
    );
    assert.ok(events.some((e) => /was .* ms; the pods measure/.test(e.message ?? '')), events.map((e) => e.message).join(' | '));
  });
});
