import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { DEFAULT_OPERATOR_CONFIG } from '../src/builders/index.js';
import { Reconciler, WRITE_ECHO_GRACE_MS } from '../src/reconciler.js';
import { FakeApi } from './fake-api.js';
import { FakeClock } from './fake-clock.js';
import { raw } from './reconcile-harness.js';
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
