import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { DEFAULT_OPERATOR_CONFIG } from '../src/builders/index.js';
import { Reconciler, WRITE_ECHO_GRACE_MS } from '../src/reconciler.js';
import { FakeApi } from './fake-api.js';
import { FakeClock } from './fake-clock.js';
import { addPods, markAvailable, raw, setup } from './reconcile-harness.js';
import { NOW } from './reports.js';

const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined };

/** A reconciler whose Deployment cache has not delivered anything yet (a late watch). */
function withLateDeploymentCache() {
  const ps = raw('minimal.yaml');
  const api = new FakeApi();
  api.put(ps as unknown as KubernetesObject);
  const clock = new FakeClock(NOW);
  const caches = api.caches();
  let late = true;
  const real = caches.children.Deployment;
  caches.children.Deployment = { get: (n, ns) => (late ? undefined : real.get(n, ns)), list: (ns) => (late ? [] : real.list(ns)) };
  const reconciler = new Reconciler({ client: api, caches, config: DEFAULT_OPERATOR_CONFIG, clock, events: { record: async () => undefined }, log: quiet });
  const key = `${ps.metadata.namespace}/${ps.metadata.name}`;
  const deploymentApplies = () => api.calls.filter((c) => c.verb === 'apply' && (c.body as KubernetesObject).kind === 'Deployment').length;
  return { api, clock, reconciler, key, deploymentApplies, catchUp: () => (late = false) };
}

describe('reconciler: a child it created that the cache has not seen yet', () => {
  it('is not applied again by a reconcile that comes before its watch event', async () => {
    const t = withLateDeploymentCache();
    await t.reconciler.reconcile(t.key);
    await t.reconciler.reconcile(t.key);
    assert.equal(t.deploymentApplies(), 1);
    t.catchUp();
    await t.reconciler.reconcile(t.key);
    assert.equal(t.deploymentApplies(), 1, 'once the cache has it, nothing differs');
  });

  it(`is applied again once ${WRITE_ECHO_GRACE_MS / 1000} s pass without it reaching the cache`, async () => {
    const t = withLateDeploymentCache();
    await t.reconciler.reconcile(t.key);
    await t.clock.advance(WRITE_ECHO_GRACE_MS + 1);
    await t.reconciler.reconcile(t.key);
    assert.equal(t.deploymentApplies(), 2);
  });

  it('is applied again at once after a delete was seen (forgetWritten)', async () => {
    const t = withLateDeploymentCache();
    await t.reconciler.reconcile(t.key);
    const d = t.api.calls.find((c) => c.verb === 'apply' && (c.body as KubernetesObject).kind === 'Deployment')?.body as KubernetesObject;
    t.reconciler.forgetWritten(d);
    await t.reconciler.reconcile(t.key);
    assert.equal(t.deploymentApplies(), 2);
  });
});

describe('reconciler: a no-op reconcile after a child changed only its status', () => {
  // Deployment status updates (the controller-manager), a Certificate turning Ready, a pod report:
  // each brings a reconcile, and none of them changes what the operator wants. The Deployment of
  // a TLS PaddleService has `args: []`, which the API server stores as no `args` (FakeApi does the
  // same); comparing the two as different re-applied the Deployment on every reconcile (3 per
  // PaddleService in the 1000-PaddleService ready bench).
  for (const [what, file] of [
    ['TLS (container args [])', 'minimal.yaml'],
    ['plain HTTP (args [--no-tls])', 'minimal.yaml#plain'],
  ] as const) {
    it(`writes no child: ${what}`, async () => {
      const ps = raw('minimal.yaml');
      ps.spec.replicas = 2; // every child kind, the PodDisruptionBudget included
      if (file.endsWith('#plain')) ps.spec.tls = { enabled: false };
      const t = setup(ps);
      await t.reconciler.reconcile(t.key);
      const applies = () => t.api.calls.filter((c) => c.verb === 'apply').length;
      const first = applies();
      assert.ok(first >= 7, `the first reconcile creates the children (${first} applies)`);
      addPods(t.api, ps.metadata.name ?? '', ['pod-a']);
      markAvailable(t.api, ps.metadata.name ?? '');
      await t.reconciler.reconcile(t.key);
      await t.reconciler.reconcile(t.key);
      const again = t.api.calls.slice(first).filter((c) => c.verb === 'apply').map((c) => (c.body as KubernetesObject).kind);
      assert.deepEqual(again, [], 'no child applied again after the Deployment status change');
    });
  }
});
