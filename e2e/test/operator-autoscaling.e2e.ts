// Autoscaling from synthetic pod reports (written like the sidecar writes them): above the
// target the Deployment grows within bounds; below it shrinks after the stabilization window.
// Breaker tuning against the real API server: kwok pods each run the sidecar's real
// CircuitBreaker, fed sampling windows of a given latency, report what they measured through the
// sidecar's PodReportPatcher (stamped with their pod template) and apply the baseline the operator
// publishes, as the config hot reload does; when the fleet's latency moves from 10 ms to 40 ms
// the published baseline follows in bounded steps instead of freezing at the first value.
// Also: an HPA next to spec.autoscaling, scale to zero, the pods' share of the rates.
import assert from 'node:assert/strict';
import { KubeConfig, Watch, type V1ConfigMap, type V1Pod } from '@kubernetes/client-node';
import type { PaddleService } from '../../crds/src/index.js';
import { CircuitBreaker } from '../../sidecar/src/breaker.js';
import { defaultSidecarConfig } from '../../sidecar/src/config.js';
import { buildPodReport, PodReportPatcher } from '../../sidecar/src/pod-report.js';
import { createObject, deleteObject, kubeconfigPath, kubectl, makeClients, useTestNamespace, waitFor, waitForValue, type Clients } from '../src/index.js';
import {
  CONVERGE_TIMEOUT_MS,
  STARTUP_TIMEOUT_MS,
  createPaddleService,
  createSigningKeySecret,
  e2eExample,
  getPaddleService,
  reportFromAllPods,
  startOperator,
  waitUntilLeading,
  type OperatorProcess,
} from '../../operator/test/e2e/harness.js';

const TEMPLATE_LABEL = 'serving.paddle.io/template-hash';

interface SimPod {
  name: string;
  breaker: CircuitBreaker;
  patcher: PodReportPatcher;
}

// Every wait below is bounded by CONVERGE_TIMEOUT_MS (a hang, not an expected duration); the
// mocha timeout is above the sum of one test's waits.
describe('operator: autoscaling and breaker tuning', function () {
  this.timeout(1_200_000);
  let clients: Clients;
  let op: OperatorProcess;
  before(async function () {
    this.timeout(2 * STARTUP_TIMEOUT_MS + 30_000);
    clients = makeClients();
    // The published breaker baseline may move every 2 s (60 s in production) so a test sees several moves.
    op = await startOperator({ identity: 'e2e-autoscale', leaseName: 'e2e-autoscale', extraArgs: ['--baseline-tune-interval-seconds', '2'] });
    await waitUntilLeading(op);
  });
  after(async () => {
    await op?.stop();
  });
  const ns = useTestNamespace(() => clients, 'opas');

  it('scales up on high P95 (within max), down after the window, and publishes the tuned breaker baseline', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('gpu.yaml', 'scaler', (ps) => {
      ps.spec.autoscaling = { minReplicas: 1, maxReplicas: 3, targetP95Ms: 50, maxGpuMemoryUtilization: 0.9, scaleDownStabilizationSeconds: 8 };
    }));
    const replicas = async () => (await clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'scaler' })).spec?.replicas;
    await waitForValue(replicas, (r) => r === 1, CONVERGE_TIMEOUT_MS, 'minReplicas 1');

    // Slow fleet: P95 120 ms against a 50 ms target -> up, capped at 3.
    const slow = { latency: { p50Ms: 80, p95Ms: 120, p99Ms: 200, baselineP95Ms: 30, samples: 100 } };
    // While a wait below reads what the operator made of the reports, the pods keep reporting
    // (every 5 s, as sidecars do): a report 30 s old is stale and pruned, which a slow machine
    // could otherwise reach in the middle of the test.
    let fleet: typeof slow = slow;
    let reportedAt = 0;
    const reporting = async <T>(read: () => Promise<T>): Promise<T> => {
      if (Date.now() - reportedAt > 5_000) {
        await reportFromAllPods(clients, ns.name, 'scaler', fleet);
        reportedAt = Date.now();
      }
      return read();
    };
    await waitFor(async () => {
      await reportFromAllPods(clients, ns.name, 'scaler', slow);
      const r = await replicas();
      return { done: r === 3, seen: r };
    }, CONVERGE_TIMEOUT_MS, 'scale up to maxReplicas 3', { intervalMs: 2_000 });
    // The Deployment is written before the status that records the decision: wait for the
    // status itself (a busy machine can show the one without the other for a while).
    const up = await waitForValue(() => reporting(() => getPaddleService(clients, ns.name, 'scaler')), (p) => p.status?.autoscaling?.desiredReplicas === 3, CONVERGE_TIMEOUT_MS, 'status.autoscaling.desiredReplicas 3');
    assert.match(up.status?.autoscaling?.reason ?? '', /P95|maxReplicas/);

    // Breaker tuning: baseline 30 ms published to the pods' config, threshold 30 x 1.8.
    const baselineOf = async () => {
      const cm = await clients.core.readNamespacedConfigMap({ namespace: ns.name, name: 'scaler-config' });
      return (JSON.parse(cm.data?.['config.json'] ?? '{}') as { breaker?: { baselineP95Ms?: number }; auth?: { rateShare?: number } });
    };
    const cfg = await waitForValue(() => reporting(baselineOf), (c) => c.breaker?.baselineP95Ms === 30 && c.auth?.rateShare === 0.333333, CONVERGE_TIMEOUT_MS, 'baseline 30 ms and a 1/3 rate share in the pods\' config');
    assert.equal(cfg.breaker?.baselineP95Ms, 30);
    await waitForValue(() => reporting(() => getPaddleService(clients, ns.name, 'scaler')), (p) => p.status?.breaker?.thresholds?.p95Ms === 54, CONVERGE_TIMEOUT_MS, 'thresholds.p95Ms 54');

    // Fast fleet: P95 5 ms -> held for the 8 s window, then down step by step to 1. The window
    // opens when the operator first sees the fast reports, which is after `downStarted` (taken
    // before they are written): every read that completes before downStarted + 8 s must still
    // see 3 replicas, however slow the machine (a slower machine makes fewer such reads, never
    // a wrong one). The first read that sees fewer than 3 is after the window.
    const fast = { latency: { p50Ms: 3, p95Ms: 5, p99Ms: 8, baselineP95Ms: 30, samples: 100 } };
    fleet = fast;
    const downStarted = Date.now();
    await reportFromAllPods(clients, ns.name, 'scaler', fast);
    const inWindow: number[] = [];
    let firstBelowAt: number | undefined;
    await waitFor(async () => {
      await reportFromAllPods(clients, ns.name, 'scaler', fast);
      const r = await replicas();
      const readAt = Date.now();
      if (readAt - downStarted < 8_000) inWindow.push(r ?? -1);
      if ((r ?? 3) < 3 && firstBelowAt === undefined) firstBelowAt = readAt;
      return { done: r === 1, seen: r };
    }, CONVERGE_TIMEOUT_MS, 'scale down to minReplicas 1', { intervalMs: 1_000 });
    assert.ok(inWindow.every((r) => r === 3), `no scale-down inside the stabilization window: ${inWindow.join(', ')}`);
    assert.ok(firstBelowAt !== undefined && firstBelowAt - downStarted >= 8_000, 'not before the window');
    await waitForValue(() => reporting(() => getPaddleService(clients, ns.name, 'scaler')), (p) => p.status?.autoscaling?.desiredReplicas === 1, CONVERGE_TIMEOUT_MS, 'status.autoscaling.desiredReplicas 1');
    await waitForValue(() => reporting(baselineOf), (c) => c.auth?.rateShare === 1, CONVERGE_TIMEOUT_MS, 'the whole rate for the one pod left');
  });

  it('an HPA targeting a PaddleService that sets spec.autoscaling: AutoscalingConflict=True and a Warning Event; gone again when the HPA goes', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('gpu.yaml', 'fought', (ps) => {
      ps.spec.autoscaling = { minReplicas: 1, maxReplicas: 2, targetP95Ms: 50 };
    }));
    const hpa = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'fought-hpa', namespace: ns.name },
      spec: {
        scaleTargetRef: { apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService', name: 'fought' },
        minReplicas: 1,
        maxReplicas: 4,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
      },
    };
    await createObject(clients.objects, hpa);
    const conflict = (p: PaddleService) => p.status?.conditions?.find((c) => c.type === 'AutoscalingConflict');
    const ps = await waitForValue(() => getPaddleService(clients, ns.name, 'fought'), (p) => conflict(p)?.status === 'True', CONVERGE_TIMEOUT_MS, 'AutoscalingConflict=True');
    assert.equal(conflict(ps)?.reason, 'HorizontalPodAutoscaler');
    assert.match(conflict(ps)?.message ?? '', /HorizontalPodAutoscaler fought-hpa targets this PaddleService/);
    await waitForValue(
      async () => (await clients.core.listNamespacedEvent({ namespace: ns.name, fieldSelector: 'involvedObject.name=fought' })).items,
      (items) => items.some((e) => e.reason === 'AutoscalingConflict' && e.type === 'Warning'),
      CONVERGE_TIMEOUT_MS,
      'a Warning Event AutoscalingConflict',
    );
    await deleteObject(clients.objects, hpa);
    await waitForValue(() => getPaddleService(clients, ns.name, 'fought'), (p) => conflict(p)?.status === 'False', CONVERGE_TIMEOUT_MS, 'AutoscalingConflict=False once the HPA is gone');
  });

  it('scaled to zero: Ready=True ScaledToZero, Available=False ScaledToZero (kubectl scale on the scale subresource)', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'idle'));
    await waitForValue(() => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'idle' }), () => true, CONVERGE_TIMEOUT_MS, 'Deployment');
    await kubectl(['-n', ns.name, 'scale', 'psvc', 'idle', '--replicas=0']);
    const cond = (p: PaddleService, type: string) => p.status?.conditions?.find((c) => c.type === type);
    const ps = await waitForValue(
      () => getPaddleService(clients, ns.name, 'idle'),
      // replicasSummary counts ready pods (0/0 at once); the messages wait for the terminating pod to be gone.
      (p) =>
        cond(p, 'Ready')?.reason === 'ScaledToZero' &&
        cond(p, 'Available')?.reason === 'ScaledToZero' &&
        p.status?.replicasSummary === '0/0' &&
        /no pod serves/.test(cond(p, 'Ready')?.message ?? '') &&
        /no pod serves/.test(cond(p, 'Available')?.message ?? ''),
      CONVERGE_TIMEOUT_MS,
      'Ready and Available with reason ScaledToZero and the last pod gone (0/0, "no pod serves")',
    );
    assert.match(cond(ps, 'Ready')?.message ?? '', /no pod serves/);
    assert.equal(cond(ps, 'Ready')?.status, 'True');
    assert.equal(cond(ps, 'Available')?.status, 'False');
    // "no pod serves" means the last pod is gone, which only a Deployment at 0 replicas explains.
    assert.equal((await clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'idle' })).spec?.replicas, 0);
  });

  it('pods report their own rolling P95 history; the published baseline moves 10 -> 40 ms in steps of at most x1.5', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'learner', (ps) => {
      ps.spec.replicas = 2;
    }));
    const pods = await waitForValue(
      async () => (await clients.core.listNamespacedPod({ namespace: ns.name, labelSelector: 'app.kubernetes.io/instance=learner' })).items,
      (items: V1Pod[]) => items.length === 2 && items.every((p) => p.status?.phase === 'Running' && p.metadata?.labels?.[TEMPLATE_LABEL]),
      CONVERGE_TIMEOUT_MS,
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

    // Phase 1: the fleet serves at ~10 ms; the operator publishes what it measured. The pods
    // applied the value that round read (the operator may publish a newer one meanwhile).
    let applied: number | undefined;
    await waitFor(async () => {
      applied = await round(10, 3);
      return { done: applied !== undefined && Math.abs(applied - 10) <= 1, seen: applied };
    }, CONVERGE_TIMEOUT_MS, 'a published baseline of ~10 ms', { intervalMs: 500 });
    for (const s of sims) assert.equal(s.breaker.baselineP95Ms(), applied, 'the pods apply the published baseline');

    // Phase 2: the fleet slows to ~40 ms and stays there. The pods keep reporting what they
    // measure (never the published value), so the published baseline follows. Every value the
    // ConfigMap takes is seen through a watch (a poll could miss a move on a busy machine).
    const seen: number[] = [];
    const watch = await new Watch(kc).watch(
      `/api/v1/namespaces/${ns.name}/configmaps`,
      { fieldSelector: 'metadata.name=learner-config' },
      (_phase: string, obj: V1ConfigMap) => {
        const b = (JSON.parse(obj.data?.['config.json'] ?? '{}') as { breaker?: { baselineP95Ms?: number } }).breaker?.baselineP95Ms;
        if (typeof b === 'number' && b !== seen.at(-1)) seen.push(b);
      },
      () => undefined,
    );
    try {
      await waitFor(async () => {
        const b = (await round(40, 3)) ?? 0;
        return { done: b >= 36 && seen.at(-1) === b, seen };
      }, 2 * CONVERGE_TIMEOUT_MS, 'the published baseline to follow the fleet to ~40 ms', { intervalMs: 500 });
    } finally {
      watch.abort();
    }
    for (let i = 1; i < seen.length; i++) {
      const prev = seen[i - 1] ?? 0;
      assert.ok((seen[i] ?? 0) <= prev * 1.5 + 0.1, `one move at most x1.5: ${prev} -> ${seen[i]} (moves: ${seen.join(' -> ')})`);
    }
    assert.ok(seen.length >= 4, `several bounded moves from ~10 ms, not one jump: ${seen.join(' -> ')}`);
    // The fleet keeps serving at ~40 ms meanwhile (a report 30 s old would be pruned as stale).
    let roundAt = Date.now();
    const ps = await waitForValue(
      async () => {
        if (Date.now() - roundAt > 5_000) {
          await round(40, 1);
          roundAt = Date.now();
        }
        return getPaddleService(clients, ns.name, 'learner');
      },
      (p) => (p.status?.breaker?.thresholds?.p95Ms ?? 0) >= 36 * 1.8,
      CONVERGE_TIMEOUT_MS,
      'thresholds.p95Ms follows',
    );
    assert.ok(ps.status?.breaker?.tunedAt, 'status.breaker.tunedAt records the last move');
    const events = await waitForValue(
      async () => (await clients.core.listNamespacedEvent({ namespace: ns.name, fieldSelector: 'involvedObject.name=learner' })).items.filter((e) => e.reason === 'BreakerTuned'),
      (items) => items.some((e) => /was .* ms; the pods measure/.test(e.message ?? '')),
      CONVERGE_TIMEOUT_MS,
      'a BreakerTuned Event naming the move (Events are written after the status)',
    );
    assert.ok(events.some((e) => /was .* ms; the pods measure/.test(e.message ?? '')), events.map((e) => e.message).join(' | '));
  });
});
