// Autoscaling from synthetic pod reports (written like the sidecar writes them): above the
// target the Deployment grows within bounds; below it shrinks after the stabilization window.
import assert from 'node:assert/strict';
import type { PaddleService } from '../../crds/src/index.js';
import { kubectl, makeClients, useTestNamespace, waitFor, waitForValue, type Clients } from '../src/index.js';
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
    // The Deployment is written before the status that records the decision: wait for the
    // status itself (a busy machine can show the one without the other for a while).
    const up = await waitForValue(() => getPaddleService(clients, ns.name, 'scaler'), (p) => p.status?.autoscaling?.desiredReplicas === 3, 60_000, 'status.autoscaling.desiredReplicas 3');
    assert.match(up.status?.autoscaling?.reason ?? '', /P95|maxReplicas/);

    // Breaker tuning: baseline 30 ms published to the pods' config, threshold 30 x 1.8.
    const baselineOf = async () => {
      const cm = await clients.core.readNamespacedConfigMap({ namespace: ns.name, name: 'scaler-config' });
      return (JSON.parse(cm.data?.['config.json'] ?? '{}') as { breaker?: { baselineP95Ms?: number }; auth?: { rateShare?: number } });
    };
    const cfg = await waitForValue(baselineOf, (c) => c.breaker?.baselineP95Ms === 30 && c.auth?.rateShare === 0.333333, 60_000, 'baseline 30 ms and a 1/3 rate share in the pods\' config');
    assert.equal(cfg.breaker?.baselineP95Ms, 30);
    await waitForValue(() => getPaddleService(clients, ns.name, 'scaler'), (p) => p.status?.breaker?.thresholds?.p95Ms === 54, 60_000, 'thresholds.p95Ms 54');

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
    await waitForValue(() => getPaddleService(clients, ns.name, 'scaler'), (p) => p.status?.autoscaling?.desiredReplicas === 1, 60_000, 'status.autoscaling.desiredReplicas 1');
    await waitForValue(baselineOf, (c) => c.auth?.rateShare === 1, 60_000, 'the whole rate for the one pod left');
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
    await clients.objects.create(hpa);
    const conflict = (p: PaddleService) => p.status?.conditions?.find((c) => c.type === 'AutoscalingConflict');
    const ps = await waitForValue(() => getPaddleService(clients, ns.name, 'fought'), (p) => conflict(p)?.status === 'True', 60_000, 'AutoscalingConflict=True');
    assert.equal(conflict(ps)?.reason, 'HorizontalPodAutoscaler');
    assert.match(conflict(ps)?.message ?? '', /HorizontalPodAutoscaler fought-hpa targets this PaddleService/);
    await waitForValue(
      async () => (await clients.core.listNamespacedEvent({ namespace: ns.name, fieldSelector: 'involvedObject.name=fought' })).items,
      (items) => items.some((e) => e.reason === 'AutoscalingConflict' && e.type === 'Warning'),
      60_000,
      'a Warning Event AutoscalingConflict',
    );
    await clients.objects.delete(hpa);
    await waitForValue(() => getPaddleService(clients, ns.name, 'fought'), (p) => conflict(p)?.status === 'False', 60_000, 'AutoscalingConflict=False once the HPA is gone');
  });

  it('scaled to zero: Ready=True ScaledToZero, Available=False ScaledToZero (kubectl scale on the scale subresource)', async () => {
    await createSigningKeySecret(clients, ns.name);
    await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'idle'));
    await waitForValue(() => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'idle' }), () => true, 60_000, 'Deployment');
    await kubectl(['-n', ns.name, 'scale', 'psvc', 'idle', '--replicas=0']);
    const cond = (p: PaddleService, type: string) => p.status?.conditions?.find((c) => c.type === type);
    const ps = await waitForValue(
      () => getPaddleService(clients, ns.name, 'idle'),
      (p) => cond(p, 'Ready')?.reason === 'ScaledToZero' && cond(p, 'Available')?.reason === 'ScaledToZero' && p.status?.replicasSummary === '0/0',
      90_000,
      'Ready and Available with reason ScaledToZero, the last pod gone (0/0)',
    );
    assert.match(cond(ps, 'Ready')?.message ?? '', /no pod serves/);
    assert.equal(cond(ps, 'Ready')?.status, 'True');
    assert.equal(cond(ps, 'Available')?.status, 'False');
    assert.equal((await clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'idle' })).spec?.replicas, 0);
  });
});
