import assert from 'node:assert/strict';
import { ApiException, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { cacheIsBehind, HELD_BACK_RECHECK_MS } from '../src/reconciler.js';
import { FakeApi } from './fake-api.js';
import { addPods, markAvailable, markCertificateReady, putReports, raw, setup } from './reconcile-harness.js';
import { report } from './reports.js';

describe('Reconciler (in-process fake of our client)', () => {
  it('first pass applies every child with SSA; a second pass with nothing changed writes nothing', async () => {
    const t = setup(raw('minimal.yaml'));
    const r1 = await t.reconciler.reconcile(t.key);
    assert.equal(r1.result, 'success');
    const applied = t.api.calls.filter((c) => c.verb === 'apply').map((c) => (c.body as KubernetesObject).kind);
    assert.deepEqual(applied, ['ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'Certificate', 'Service', 'Deployment'], 'one replica: no PodDisruptionBudget');
    assert.equal(t.ready()?.status, 'False');
    assert.equal(t.ready()?.reason, 'DeploymentUnavailable');
    assert.deepEqual(t.events, [], 'a new PaddleService coming up is no Warning');

    // The second pass sees the Deployment it created (Available: DeploymentMissing -> ReplicasUnavailable).
    await t.reconciler.reconcile(t.key);
    const before = t.api.writes();
    const n = t.api.calls.length;
    await t.reconciler.reconcile(t.key);
    assert.equal(t.api.writes(), before, `no-op reconcile: zero writes, got ${JSON.stringify(t.api.calls.slice(n))}`);
  });

  it('the PodDisruptionBudget: applied at 2 replicas; at 1 left as it is (it blocks nothing there) and never deleted', async () => {
    const ps = raw('minimal.yaml');
    ps.spec.replicas = 2;
    const t = setup(ps);
    const { namespace = '', name = '' } = ps.metadata;
    await t.reconciler.reconcile(t.key);
    const pdb = t.api.find('PodDisruptionBudget', namespace, name);
    assert.ok(pdb, 'applied at 2 replicas');
    const live = t.api.find('PaddleService', namespace, name) as typeof ps;
    t.api.put({ ...live, spec: { ...live.spec, replicas: 1 }, metadata: { ...live.metadata, generation: 2 } } as KubernetesObject);
    const before = t.api.calls.length;
    await t.reconciler.reconcile(t.key);
    const calls = t.api.calls.slice(before);
    assert.deepEqual(calls.filter((c) => c.verb === 'apply' && (c.body as KubernetesObject).kind === 'PodDisruptionBudget'), [], 'not applied at 1 replica');
    assert.deepEqual(t.api.find('PodDisruptionBudget', namespace, name)?.metadata?.resourceVersion, pdb.metadata?.resourceVersion, 'left untouched');
    assert.equal(t.ready()?.reason === 'InvalidSpec', false);
  });

  it('a hand edit of an owned field is restored, and only that object is re-applied', async () => {
    const t = setup(raw('gpu.yaml'));
    await t.reconciler.reconcile(t.key);
    const d = t.api.find('Deployment', 'ml', 'ernie-encoder') as V1Deployment;
    const edited = structuredClone(d);
    delete edited.spec?.template.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu'];
    t.api.objects.set(FakeApi.key('Deployment', 'ml', 'ernie-encoder'), edited as KubernetesObject);
    const before = t.api.calls.length;
    await t.reconciler.reconcile(t.key);
    const reapplied = t.api.calls.slice(before).filter((c) => c.verb === 'apply');
    assert.deepEqual(reapplied.map((c) => (c.body as KubernetesObject).kind), ['Deployment']);
    const restored = t.api.find('Deployment', 'ml', 'ernie-encoder') as V1Deployment;
    assert.equal(restored.spec?.template.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu'], '1');
  });

  it('invalid spec: Ready=False/InvalidSpec, one Warning Event, no children, no requeue, no hot loop', async () => {
    const bad = raw('minimal.yaml');
    bad.spec.model.source = { pvc: { claimName: 'a' }, configMap: { name: 'b' } };
    const t = setup(bad);
    const r = await t.reconciler.reconcile(t.key);
    assert.equal(r.result, 'invalid');
    assert.equal(r.backoff, undefined);
    assert.equal(r.requeueAfterMs, undefined);
    assert.equal(t.api.calls.filter((c) => c.verb === 'apply').length, 0);
    assert.equal(t.ready()?.reason, 'InvalidSpec');
    assert.match(t.ready()?.message ?? '', /model\.source/);
    assert.deepEqual(t.events.map((e) => `${e.type}/${e.reason}`), ['Warning/InvalidSpec']);
    const writes = t.api.writes();
    for (let i = 0; i < 5; i++) await t.reconciler.reconcile(t.key);
    assert.equal(t.api.writes(), writes, 'repeated reconciles of the same bad spec write nothing');
    assert.equal(t.events.length, 1, 'one Event, not one per reconcile');
  });

  it('missing public-key Secret: Ready=False/PublicKeySecretMissing, Event once, backoff requested', async () => {
    const t = setup(raw('minimal.yaml'));
    t.api.objects.delete(FakeApi.key('Secret', 'ml', 'model-signing-key'));
    const r = await t.reconciler.reconcile(t.key);
    assert.equal(r.result, 'blocked');
    assert.equal(r.backoff, true);
    assert.equal(t.ready()?.reason, 'PublicKeySecretMissing');
    assert.match(t.ready()?.message ?? '', /ml\/model-signing-key/);
    await t.reconciler.reconcile(t.key);
    assert.equal(t.events.filter((e) => e.reason === 'PublicKeySecretMissing').length, 1);
    // The Secret appears: the next reconcile clears the blocker.
    t.api.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'model-signing-key', namespace: 'ml' } });
    const r2 = await t.reconciler.reconcile(t.key);
    assert.equal(r2.backoff, undefined);
    assert.notEqual(t.ready()?.reason, 'PublicKeySecretMissing');
  });

  it('Ready=True with an available Deployment, a Ready Certificate and verified reports; prunes gone pods', async () => {
    const t = setup(raw('minimal.yaml'));
    await t.reconciler.reconcile(t.key);
    markAvailable(t.api, 'mnist-mlp');
    markCertificateReady(t.api, 'mnist-mlp');
    addPods(t.api, 'mnist-mlp', ['mnist-mlp-a']);
    putReports(t.api, 'mnist-mlp', { 'mnist-mlp-a': report({ device: 'cpu' }), 'mnist-mlp-gone': report({ device: 'cpu' }) });
    const r = await t.reconciler.reconcile(t.key);
    assert.equal(t.ready()?.status, 'True', t.ready()?.message);
    assert.deepEqual(Object.keys(t.status()?.podReports ?? {}), ['mnist-mlp-a'], 'the gone pod report was pruned');
    assert.equal(t.status()?.replicasSummary, '1/1');
    assert.ok(r.requeueAfterMs !== undefined && r.requeueAfterMs > 0, 'comes back when the report would go stale');
    assert.ok(t.events.some((e) => e.type === 'Normal' && e.reason === 'Ready'));
  });

  it('coming up, one starting reason after another (pods before the certificate) is no Warning; Ready is one Normal Event', async () => {
    const t = setup(raw('minimal.yaml'));
    await t.reconciler.reconcile(t.key);
    assert.equal(t.ready()?.reason, 'DeploymentUnavailable');
    markAvailable(t.api, 'mnist-mlp');
    addPods(t.api, 'mnist-mlp', ['mnist-mlp-a']);
    // A pod that has served nothing yet: no latency baseline to publish (that would be a BreakerTuned Event).
    putReports(t.api, 'mnist-mlp', { 'mnist-mlp-a': report({ device: 'cpu', latency: { samples: 0 } }) });
    await t.reconciler.reconcile(t.key);
    assert.equal(t.ready()?.reason, 'CertificateNotReady');
    assert.equal(t.events.length, 0, `DeploymentUnavailable -> CertificateNotReady on the way up: no Event, got ${JSON.stringify(t.events)}`);
    markCertificateReady(t.api, 'mnist-mlp');
    await t.reconciler.reconcile(t.key);
    assert.equal(t.ready()?.status, 'True', t.ready()?.message);
    assert.deepEqual(t.events.map((e) => `${e.type}/${e.reason}`), ['Normal/Ready']);
    // Once it was Ready, losing the Deployment's capacity is news again.
    const d = t.api.find('Deployment', 'ml', 'mnist-mlp') as V1Deployment;
    t.api.objects.set(FakeApi.key('Deployment', 'ml', 'mnist-mlp'), { ...d, status: { replicas: 1, readyReplicas: 0, availableReplicas: 0, conditions: [{ type: 'Available', status: 'False' }] } } as KubernetesObject);
    await t.reconciler.reconcile(t.key);
    assert.equal(t.ready()?.status, 'False');
    assert.deepEqual(t.events.map((e) => `${e.type}/${e.reason}`), ['Normal/Ready', `Warning/${t.ready()?.reason}`]);
  });

  it('a report is fresh for the staleness window from when the operator first saw it (a late reconcile, a pod clock behind), then stale', async () => {
    const t = setup(raw('minimal.yaml'));
    await t.reconciler.reconcile(t.key);
    markAvailable(t.api, 'mnist-mlp');
    markCertificateReady(t.api, 'mnist-mlp');
    addPods(t.api, 'mnist-mlp', ['mnist-mlp-a']);
    // Built 120 s before this reconcile (the window is 90 s: the 60 s heartbeat + 2 x the 15 s
    // interval): it waited in the API server and the work queue, or the pod's clock is behind. It
    // has just arrived.
    const late = new Date(t.clock.now() - 120_000).toISOString();
    putReports(t.api, 'mnist-mlp', { 'mnist-mlp-a': report({ device: 'cpu', reportedAt: late, latency: { samples: 0 } }) });
    const r = await t.reconciler.reconcile(t.key);
    assert.equal(t.ready()?.status, 'True', t.ready()?.message);
    assert.ok(r.requeueAfterMs !== undefined && r.requeueAfterMs > 85_000 && r.requeueAfterMs <= 91_000, `looks again when it would go stale (${r.requeueAfterMs} ms)`);
    // No newer report within the window: stale now, pruned, Ready=False.
    await t.clock.advance(91_000);
    await t.reconciler.reconcile(t.key);
    assert.equal(t.ready()?.status, 'False');
    assert.deepEqual(Object.keys(t.status()?.podReports ?? {}), []);
  });

  it('autoscaling: P95 above target scales the Deployment up and says why', async () => {
    const t = setup(raw('gpu.yaml'));
    t.api.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'model-signing-key', namespace: 'ml' } });
    await t.reconciler.reconcile(t.key);
    assert.equal((t.api.find('Deployment', 'ml', 'ernie-encoder') as V1Deployment).spec?.replicas, 2, 'minReplicas');
    addPods(t.api, 'ernie-encoder', ['a', 'b']);
    const slow = { latency: { p50Ms: 60, p95Ms: 100, p99Ms: 150, baselineP95Ms: 40, samples: 50 } };
    putReports(t.api, 'ernie-encoder', { a: report(slow), b: report(slow) });
    await t.reconciler.reconcile(t.key);
    assert.equal((t.api.find('Deployment', 'ml', 'ernie-encoder') as V1Deployment).spec?.replicas, 4);
    assert.equal(t.status()?.autoscaling?.desiredReplicas, 4);
    assert.match(t.status()?.autoscaling?.reason ?? '', /scaled up from 2/);
    assert.ok(t.events.some((e) => e.reason === 'ScaledUp'));
    // The fleet baseline went to the ConfigMap (breaker tuning).
    const cm = t.api.find('ConfigMap', 'ml', 'ernie-encoder-config') as KubernetesObject & { data: Record<string, string> };
    assert.equal(JSON.parse(cm.data['config.json'] ?? '{}').breaker.baselineP95Ms, 40);
    assert.equal(t.status()?.breaker?.thresholds?.p95Ms, 72);
  });

  it('a transient error propagates (the controller requeues with backoff)', async () => {
    const t = setup(raw('minimal.yaml'));
    t.api.failNext = { verb: 'apply', error: new ApiException(503, 'unavailable', '{}', {}) };
    await assert.rejects(t.reconciler.reconcile(t.key), (e: unknown) => e instanceof ApiException && e.code === 503);
  });

  it('a permanent apply error becomes Ready=False/ApplyFailed with backoff, not a crash', async () => {
    const t = setup(raw('minimal.yaml'));
    t.api.failNext = { verb: 'apply', error: new ApiException(403, 'forbidden', JSON.stringify({ message: 'roles is forbidden' }), {}) };
    const r = await t.reconciler.reconcile(t.key);
    assert.equal(r.backoff, true);
    assert.equal(t.ready()?.reason, 'ApplyFailed');
    assert.match(t.ready()?.message ?? '', /403/);
  });

  it('a cache that has not caught up with our own writes does not cause a second write', async () => {
    const t = setup(raw('minimal.yaml'));
    await t.reconciler.reconcile(t.key);
    await t.reconciler.reconcile(t.key);
    // Roll the cached Deployment back to an older version with another spec hash, as a lagging
    // watch would show it after a spec change we just applied.
    const key = FakeApi.key('Deployment', 'ml', 'mnist-mlp');
    const d = t.api.objects.get(key) as KubernetesObject;
    const stale = structuredClone(d);
    stale.metadata = { ...stale.metadata, resourceVersion: '1', annotations: { ...stale.metadata?.annotations, 'serving.paddle.io/spec-hash': 'older' } };
    t.api.objects.set(key, stale);
    const before = t.api.calls.filter((c) => c.verb === 'apply').length;
    await t.reconciler.reconcile(t.key);
    assert.equal(t.api.calls.filter((c) => c.verb === 'apply').length, before, 'no re-apply while the cache is behind our write');
  });

  it('a status write held back because the cache was behind our last patch is made on that patch\'s echo (no lost update)', async () => {
    const t = setup(raw('minimal.yaml'));
    await t.reconciler.reconcile(t.key);
    markAvailable(t.api, 'mnist-mlp');
    addPods(t.api, 'mnist-mlp', ['mnist-mlp-a']);
    putReports(t.api, 'mnist-mlp', { 'mnist-mlp-a': report({ device: 'cpu', latency: { samples: 0 } }) });
    await t.reconciler.reconcile(t.key);
    assert.equal(t.ready()?.reason, 'CertificateNotReady');
    // Our status patch is written (resourceVersion W); the watch has not delivered it yet, so the
    // cache still shows the PaddleService as it was before that patch.
    const echo = structuredClone(t.api.find('PaddleService', 'ml', 'mnist-mlp') as KubernetesObject);
    const key = FakeApi.key('PaddleService', 'ml', 'mnist-mlp');
    const lagging = structuredClone(echo);
    lagging.metadata = { ...lagging.metadata, resourceVersion: '1' };
    t.api.objects.set(key, lagging);
    // cert-manager marks the Certificate Ready: a reconcile sees it, but holds its status write back.
    markCertificateReady(t.api, 'mnist-mlp');
    const statusWrites = (): number => t.api.calls.filter((c) => c.verb === 'patch').length;
    const before = statusWrites();
    const held = await t.reconciler.reconcile(t.key);
    assert.equal(statusWrites(), before, 'no status write over a cache older than our last patch');
    // ... and it comes back by itself soon, in case the echo reached the cache during that reconcile.
    assert.ok(held.requeueAfterMs !== undefined && held.requeueAfterMs <= HELD_BACK_RECHECK_MS, `looks again within ${HELD_BACK_RECHECK_MS} ms (${held.requeueAfterMs} ms)`);
    // The echo of our patch arrives: it must cause a reconcile (the controller drops own-write echoes).
    t.api.objects.set(key, echo);
    assert.equal(t.reconciler.isOwnWrite(echo), false, 'the echo is news: a held-back status write waits for it');
    await t.reconciler.reconcile(t.key);
    assert.equal(t.ready()?.status, 'True', t.ready()?.message);
    // Written now: the echo of this write is our own again.
    assert.equal(t.reconciler.isOwnWrite(t.api.find('PaddleService', 'ml', 'mnist-mlp') as KubernetesObject), true);
  });

  it('knows the echo of its own writes (children applied, status patched) from anyone else\'s change', async () => {
    const t = setup(raw('minimal.yaml'));
    await t.reconciler.reconcile(t.key);
    const d = t.api.find('Deployment', 'ml', 'mnist-mlp') as KubernetesObject;
    assert.equal(t.reconciler.isOwnWrite(d), true, 'the Deployment as we applied it');
    const ps = t.api.find('PaddleService', 'ml', 'mnist-mlp') as KubernetesObject;
    assert.equal(t.reconciler.isOwnWrite(ps), true, 'the PaddleService as our status patch left it');
    // The Deployment controller writes status: a new resourceVersion, not ours.
    markAvailable(t.api, 'mnist-mlp');
    t.api.put(t.api.find('Deployment', 'ml', 'mnist-mlp') as KubernetesObject);
    assert.equal(t.reconciler.isOwnWrite(t.api.find('Deployment', 'ml', 'mnist-mlp') as KubernetesObject), false);
    assert.equal(t.reconciler.isOwnWrite({ ...d, metadata: { ...d.metadata, resourceVersion: undefined } } as KubernetesObject), false);
  });

  it('forget(name) drops exactly name\'s own-write state, never name-2\'s', async () => {
    const t = setup(raw('minimal.yaml'));
    const other = raw('minimal.yaml');
    other.metadata = { ...other.metadata, name: 'mnist-mlp-2', uid: 'uid-mnist-mlp-2' };
    t.api.put(other as unknown as KubernetesObject);
    await t.reconciler.reconcile(t.key);
    await t.reconciler.reconcile('ml/mnist-mlp-2');
    const own = (kind: string, name: string) => t.reconciler.isOwnWrite(t.api.find(kind, 'ml', name) as KubernetesObject);
    const kinds: Array<[string, string]> = [
      ['Deployment', ''],
      ['ConfigMap', '-config'],
      ['Role', '-status-reporter'],
      ['PaddleService', ''],
    ];
    for (const [kind, suffix] of kinds) {
      assert.equal(own(kind, `mnist-mlp${suffix}`), true, `${kind} mnist-mlp${suffix} before`);
      assert.equal(own(kind, `mnist-mlp-2${suffix}`), true, `${kind} mnist-mlp-2${suffix} before`);
    }
    t.reconciler.forget(t.key);
    for (const [kind, suffix] of kinds) {
      assert.equal(own(kind, `mnist-mlp${suffix}`), false, `${kind} mnist-mlp${suffix} forgotten`);
      assert.equal(own(kind, `mnist-mlp-2${suffix}`), true, `${kind} mnist-mlp-2${suffix} kept`);
    }
  });

  it('the first status already reflects the Deployment it just applied (not "missing")', async () => {
    const t = setup(raw('minimal.yaml'));
    await t.reconciler.reconcile(t.key);
    const available = t.status()?.conditions?.find((c) => c.type === 'Available');
    assert.equal(available?.reason, 'ReplicasUnavailable');
  });

  const rvTable: Array<[string | undefined, string | undefined, boolean]> = [
    ['5', '7', true],
    ['7', '7', false],
    ['9', '7', false],
    ['10', '9', false],
    [undefined, '7', false],
    ['abc', '7', false],
  ];
  for (const [cached, written, expected] of rvTable) {
    it(`cacheIsBehind(${cached}, ${written}) = ${expected}`, () => assert.equal(cacheIsBehind(cached, written), expected));
  }

  it('a deleted PaddleService is a no-op', async () => {
    const t = setup(raw('minimal.yaml'));
    t.api.objects.delete(FakeApi.key('PaddleService', 'ml', 'mnist-mlp'));
    assert.deepEqual(await t.reconciler.reconcile(t.key), { result: 'success' });
    assert.equal(t.api.calls.length, 0);
  });
});
