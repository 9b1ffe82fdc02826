// Autoscaling from synthetic pod reports (written like the sidecar writes them): above the
// target the Deployment grows within bounds; below it shrinks after the stabilization window.
import assert from 'node:assert/strict';
import { makeClients, useTestNamespace, waitFor, waitForValue, type Clients } from '../src/index.js';
import {
  createPaddleService,
  createSigningKeySecret,
  e2eExample,
  getPaddleService,
  reportFromAllPods,
  startOperator,
  type OperatorProcess,
} from '../../operator/test/e2e/harness.js';

describe('operator: autoscaling and breaker tuning', function () {
  this.timeout(240_000);
  let clients: Clients;
  let op: OperatorProcess;
  before(async function () {
    this.timeout(90_000);
    clients = makeClients();
    op = await startOperator({ identity: 'e2e-autoscale', leaseName: 'e2e-autoscale' });
    await waitFor(async () => (await op.metric('paddle_operator_leader')) === 1, 30_000, 'the operator to lead');
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
    await waitForValue(replicas, (r) => r === 1, 60_000, 'minReplicas 1');

    // Slow fleet: P95 120 ms against a 50 ms target -> up, capped at 3.
    const slow = { latency: { p50Ms: 80, p95Ms: 120, p99Ms: 200, baselineP95Ms: 30, samples: 100 } };
    await waitFor(async () => {
      await reportFromAllPods(clients, ns.name, 'scaler', slow);
      const r = await replicas();
      return { done: r === 3, seen: r };
    }, 90_000, 'scale up to maxReplicas 3', { intervalMs: 2_000 });
    const up = await getPaddleService(clients, ns.name, 'scaler');
    assert.equal(up.status?.autoscaling?.desiredReplicas, 3);
    assert.match(up.status?.autoscaling?.reason ?? '', /P95|maxReplicas/);

    // Breaker tuning: baseline 30 ms published to the pods' config, threshold 30 x 1.8.
    const cm = await clients.core.readNamespacedConfigMap({ namespace: ns.name, name: 'scaler-config' });
    const cfg = JSON.parse(cm.data?.['config.json'] ?? '{}') as { breaker?: { baselineP95Ms?: number } };
    assert.equal(cfg.breaker?.baselineP95Ms, 30);
    assert.equal(up.status?.breaker?.thresholds?.p95Ms, 54);

    // Fast fleet: P95 5 ms -> held for the 8 s window, then down step by step to 1.
    const fast = { latency: { p50Ms: 3, p95Ms: 5, p99Ms: 8, baselineP95Ms: 30, samples: 100 } };
    await reportFromAllPods(clients, ns.name, 'scaler', fast);
    const downStarted = Date.now();
    await new Promise((r) => setTimeout(r, 4_000));
    assert.equal(await replicas(), 3, 'no scale-down inside the stabilization window');
    await waitFor(async () => {
      await reportFromAllPods(clients, ns.name, 'scaler', fast);
      const r = await replicas();
      return { done: r === 1, seen: r };
    }, 120_000, 'scale down to minReplicas 1', { intervalMs: 2_000 });
    assert.ok(Date.now() - downStarted >= 8_000, 'not before the window');
    const down = await getPaddleService(clients, ns.name, 'scaler');
    assert.equal(down.status?.autoscaling?.desiredReplicas, 1);
  });
});
