// The reconciler's control loops over time (FakeApi, a fake clock): the published breaker
// baseline follows the fleet at a bounded rate, each pod's share of the rates follows the
// replica count, a rollout reads as one, and an HPA next to spec.autoscaling is reported.
import assert from 'node:assert/strict';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { PaddleService, PodReport, SidecarConfig } from '../../crds/src/index.js';
import { ENV } from '../../crds/src/index.js';
import { TEMPLATE_HASH_LABEL } from '../src/builders/index.js';
import { addPods, markAvailable, markCertificateReady, raw, setup } from './reconcile-harness.js';
import { report } from './reports.js';

type T = ReturnType<typeof setup>;

function sidecarConfig(t: T, name: string): SidecarConfig {
  const cm = t.api.find('ConfigMap', 'ml', `${name}-config`) as KubernetesObject & { data: Record<string, string> };
  return JSON.parse(cm.data['config.json'] ?? '{}') as SidecarConfig;
}

function setReports(t: T, name: string, reports: Record<string, PodReport>): void {
  const ps = t.api.find('PaddleService', 'ml', name) as unknown as PaddleService;
  t.api.put({ ...ps, status: { ...ps.status, podReports: reports } } as unknown as KubernetesObject);
}

/** Reports `baseline` as every pod's measured baseline, freshly stamped at the fake clock's now. */
function fleetMeasures(t: T, name: string, pods: string[], baseline: number): void {
  const at = new Date(t.clock.now() - 1_000).toISOString();
  setReports(t, name, Object.fromEntries(pods.map((p) => [p, report({ reportedAt: at, latency: { p50Ms: baseline * 0.7, p95Ms: baseline, baselineP95Ms: baseline, samples: 100 } })])));
}

function deploymentOf(t: T, name: string): V1Deployment {
  return t.api.find('Deployment', 'ml', name) as V1Deployment;
}

describe('control loops (reconciler over time)', () => {
  it('the published baseline follows the fleet\'s measurements: at most x1.5 per move, at most one move a minute, then settles', async () => {
    const ps = raw('minimal.yaml');
    ps.spec.replicas = 2;
    const t = setup(ps);
    await t.reconciler.reconcile(t.key);
    addPods(t.api, 'mnist-mlp', ['a', 'b']);
    fleetMeasures(t, 'mnist-mlp', ['a', 'b'], 10);
    await t.reconciler.reconcile(t.key);
    assert.equal(sidecarConfig(t, 'mnist-mlp').breaker.baselineP95Ms, 10, 'the first measurement is published as it is');
    assert.equal(t.status()?.breaker?.thresholds?.p95Ms, 18);

    // The fleet's latency moves to 40 ms and stays there.
    const published: number[] = [10];
    for (let step = 0; step < 24; step++) {
      await t.clock.advance(15_000);
      fleetMeasures(t, 'mnist-mlp', ['a', 'b'], 40);
      const r = await t.reconciler.reconcile(t.key);
      const b = sidecarConfig(t, 'mnist-mlp').breaker.baselineP95Ms ?? 0;
      if (b !== published.at(-1)) published.push(b);
      if (b !== 40) assert.ok(r.requeueAfterMs !== undefined && r.requeueAfterMs <= 60_000, 'comes back to move again');
    }
    assert.deepEqual(published, [10, 15, 22.5, 33.8, 40], 'x1.5 steps a minute apart, then the measured value');
    assert.equal(t.status()?.breaker?.thresholds?.p95Ms, 72);
    assert.ok(t.events.filter((e) => e.reason === 'BreakerTuned').length >= 4);
  });

  it('a move whose status write was lost does not let the next reconcile move again within the interval', async () => {
    const ps = raw('minimal.yaml');
    const t = setup(ps);
    await t.reconciler.reconcile(t.key);
    addPods(t.api, 'mnist-mlp', ['a']);
    fleetMeasures(t, 'mnist-mlp', ['a'], 10);
    await t.reconciler.reconcile(t.key);
    await t.clock.advance(61_000);
    fleetMeasures(t, 'mnist-mlp', ['a'], 100);
    await t.reconciler.reconcile(t.key);
    assert.equal(sidecarConfig(t, 'mnist-mlp').breaker.baselineP95Ms, 15);
    // The status that recorded the move is lost (a write skipped on a stale cache, say).
    const cur = t.api.find('PaddleService', 'ml', 'mnist-mlp') as unknown as PaddleService;
    t.api.put({ ...cur, status: { ...cur.status, breaker: { ...cur.status?.breaker, tunedAt: new Date(t.clock.now() - 3600_000).toISOString() } } } as unknown as KubernetesObject);
    await t.clock.advance(5_000);
    fleetMeasures(t, 'mnist-mlp', ['a'], 100);
    await t.reconciler.reconcile(t.key);
    assert.equal(sidecarConfig(t, 'mnist-mlp').breaker.baselineP95Ms, 15, 'still one move per interval');
  });

  it('each pod enforces 1/replicas of the policy rates, and the share follows a scale', async () => {
    const ps = raw('minimal.yaml');
    ps.spec.replicas = 3;
    const t = setup(ps);
    await t.reconciler.reconcile(t.key);
    const c3 = sidecarConfig(t, 'mnist-mlp');
    assert.equal(c3.auth.rateShare, 0.333333);
    assert.equal(c3.auth.policies.find((p) => p.path === '/v1/predict')?.callsPerMinute, 60, 'the policy keeps the service-wide number');
    const template = deploymentOf(t, 'mnist-mlp').spec?.template.metadata?.labels?.[TEMPLATE_HASH_LABEL];

    const scaled = t.api.find('PaddleService', 'ml', 'mnist-mlp') as unknown as PaddleService;
    t.api.put({ ...scaled, spec: { ...scaled.spec, replicas: 10 }, metadata: { ...scaled.metadata, generation: 2 } } as unknown as KubernetesObject);
    await t.reconciler.reconcile(t.key);
    assert.equal(sidecarConfig(t, 'mnist-mlp').auth.rateShare, 0.1);
    assert.equal(deploymentOf(t, 'mnist-mlp').spec?.replicas, 10);
    assert.equal(deploymentOf(t, 'mnist-mlp').spec?.template.metadata?.labels?.[TEMPLATE_HASH_LABEL], template, 'a new share reaches the pods by hot reload: no rollout');
  });

  it('pods learn their template from the downward API; a rollout with old pods still serving is Ready=True RollingOut', async () => {
    const t = setup(raw('minimal.yaml'));
    await t.reconciler.reconcile(t.key);
    markAvailable(t.api, 'mnist-mlp');
    markCertificateReady(t.api, 'mnist-mlp');
    const d = deploymentOf(t, 'mnist-mlp');
    const hash = d.spec?.template.metadata?.labels?.[TEMPLATE_HASH_LABEL];
    assert.match(hash ?? '', /^[0-9a-f]{16}$/);
    const env = d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === ENV.templateHash);
    assert.equal(env?.valueFrom?.fieldRef?.fieldPath, `metadata.labels['${TEMPLATE_HASH_LABEL}']`);

    // One old pod (another template, another model digest) still serves; the new one reports.
    addPods(t.api, 'mnist-mlp', ['old-0'], 'previoustemplate');
    addPods(t.api, 'mnist-mlp', ['new-0']);
    const at = new Date(t.clock.now() - 1_000).toISOString();
    setReports(t, 'mnist-mlp', {
      'old-0': report({ reportedAt: at, templateHash: 'previoustemplate', model: { ...report().model, digest: 'sha256:old' } }),
      'new-0': report({ reportedAt: at, templateHash: hash as string, model: { ...report().model, digest: 'sha256:new' } }),
    });
    const ps = t.api.find('PaddleService', 'ml', 'mnist-mlp') as unknown as PaddleService;
    t.api.put({ ...ps, spec: { ...ps.spec, replicas: 2 }, metadata: { ...ps.metadata, generation: 2 } } as unknown as KubernetesObject);
    await t.reconciler.reconcile(t.key);
    markAvailable(t.api, 'mnist-mlp');
    await t.reconciler.reconcile(t.key);
    const mv = t.status()?.conditions?.find((c) => c.type === 'ModelVerified');
    assert.equal(mv?.status, 'True', mv?.message);
    assert.equal(t.ready()?.reason, 'RollingOut', t.ready()?.message);
    assert.equal(t.ready()?.status, 'True');
    assert.ok(!t.events.some((e) => e.type === 'Warning'), JSON.stringify(t.events));
  });

  it('an HPA targeting a PaddleService with spec.autoscaling: AutoscalingConflict=True and one Warning Event', async () => {
    const t = setup(raw('gpu.yaml'));
    t.api.put({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'ernie-hpa', namespace: 'ml' },
      spec: { scaleTargetRef: { apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService', name: 'ernie-encoder' }, minReplicas: 1, maxReplicas: 5 },
    } as KubernetesObject);
    // One that scales something else is no conflict.
    t.api.put({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'other', namespace: 'ml' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ernie-encoder' }, maxReplicas: 5 },
    } as KubernetesObject);
    await t.reconciler.reconcile(t.key);
    await t.reconciler.reconcile(t.key);
    const c = t.status()?.conditions?.find((x) => x.type === 'AutoscalingConflict');
    assert.equal(c?.status, 'True');
    assert.match(c?.message ?? '', /HorizontalPodAutoscaler ernie-hpa targets/);
    assert.doesNotMatch(c?.message ?? '', /other/);
    assert.deepEqual(
      t.events.filter((e) => e.reason === 'AutoscalingConflict').map((e) => e.type),
      ['Warning'],
    );
    // The HPA goes: the condition clears.
    t.api.objects.delete('HorizontalPodAutoscaler/ml/ernie-hpa');
    await t.reconciler.reconcile(t.key);
    assert.equal(t.status()?.conditions?.find((x) => x.type === 'AutoscalingConflict')?.status, 'False');
  });
});
