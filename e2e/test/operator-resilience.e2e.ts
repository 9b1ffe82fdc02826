// The operator survives a kube-apiserver restart and hands over leadership between replicas.
import assert from 'node:assert/strict';
import { CoordinationV1Api, type V1Deployment, type V1Lease } from '@kubernetes/client-node';
import { makeClients, useTestNamespace, waitFor, waitForValue, type Clients } from '../src/index.js';
import {
  CONVERGE_TIMEOUT_MS,
  STARTUP_TIMEOUT_MS,
  createPaddleService,
  createSigningKeySecret,
  e2eExample,
  getPaddleService,
  mergePatchPaddleService,
  restartApiServer,
  startOperator,
  waitUntilLeading,
  type OperatorProcess,
} from '../../operator/test/e2e/harness.js';

const threads = (d: V1Deployment) => d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'PADDLE_CPU_THREADS')?.value;

// Every wait is bounded by STARTUP/CONVERGE_TIMEOUT_MS (a hang, not an expected duration); the
// mocha timeout is above the sum of one test's waits.
describe('operator: resilience', function () {
  this.timeout(1_500_000);
  let clients: Clients;
  before(() => {
    clients = makeClients();
  });
  const ns = useTestNamespace(() => clients, 'opres');

  it('kube-apiserver stopped and restarted mid-reconcile: the operator survives and converges', async () => {
    const op = await startOperator({ identity: 'e2e-restart', leaseName: 'e2e-restart' });
    try {
      await waitUntilLeading(op);
      await createSigningKeySecret(clients, ns.name);
      await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'survivor'));
      await waitForValue(() => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'survivor' }), () => true, CONVERGE_TIMEOUT_MS, 'Deployment');
      await mergePatchPaddleService(clients, ns.name, 'survivor', { spec: { runtime: { cpuThreads: 2 } } });

      await restartApiServer(8_000);
      assert.equal(op.child.exitCode, null, 'the operator is still running after the outage');

      // Fresh clients: the old keep-alive connections died with the server.
      clients = makeClients();
      await waitForValue(async () => {
        try {
          return await clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'survivor' });
        } catch {
          return undefined;
        }
      }, (d) => d !== undefined && threads(d) === '2', CONVERGE_TIMEOUT_MS, 'the pending spec change to converge');

      // Changes made after the restart are picked up too (watches re-established).
      // The restarted server answers 503 until its CRD paths are installed: a user retries.
      await waitFor(async () => {
        try {
          await mergePatchPaddleService(clients, ns.name, 'survivor', { spec: { runtime: { cpuThreads: 4 } } });
          return { done: true, seen: 'patched' };
        } catch (e) {
          return { done: false, seen: String(e).slice(0, 300) };
        }
      }, CONVERGE_TIMEOUT_MS, 'the restarted API server to accept a spec patch');
      await waitForValue(() => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'survivor' }), (d) => threads(d) === '4', CONVERGE_TIMEOUT_MS, 'a change after the restart');
      assert.equal(op.child.exitCode, null);
      // No assertion on paddle_operator_informer_restarts_total: a graceful API server shutdown
      // may end the watches cleanly (client-node then re-lists without an error event), so
      // whether the counter moves depends on timing. The change picked up above is what proves
      // the watches were re-established.
    } finally {
      await op.stop();
    }
  });

  // How fast the handover is (within lease + 2 retry periods) is the unit test's claim
  // (operator/test/leader-election.test.ts, on a fake clock); a loaded machine may take longer.
  // Here: the standby takes over only once the lease ran out, and then reconciles.
  it('two operators: one leads; killing it hands over once the lease runs out', async () => {
    const lease = `e2e-ha-${ns.name}`;
    const leases = clients.kc.makeApiClient(CoordinationV1Api);
    const readLease = (): Promise<V1Lease> => leases.readNamespacedLease({ namespace: 'default', name: lease });
    const a = await startOperator({ identity: 'op-a', leaseName: lease });
    let b: OperatorProcess | undefined;
    try {
      await waitUntilLeading(a);
      b = await startOperator({ identity: 'op-b', leaseName: lease });
      const standby = b;
      // op-b has read the Lease and found op-a holding it: its /readyz says so.
      const readyz = await waitForValue(
        async () => {
          const r = await fetch(`http://127.0.0.1:${standby.port}/readyz`);
          return { status: r.status, text: (await r.text()).trim() };
        },
        (r) => r.text === 'standby; leader is op-a',
        STARTUP_TIMEOUT_MS,
        'op-b to observe op-a holding the lease',
      );
      assert.equal(readyz.status, 200, 'a standby is ready');
      assert.equal(await standby.metric('paddle_operator_leader'), 0, 'op-b stands by');

      const held = await readLease();
      assert.equal(held.spec?.holderIdentity, 'op-a');
      await a.stop('SIGKILL'); // no release: b must wait out the lease
      await waitUntilLeading(standby);
      const taken = await readLease();
      assert.equal(taken.spec?.holderIdentity, 'op-b');
      assert.equal(taken.spec?.leaseTransitions, (held.spec?.leaseTransitions ?? 0) + 1);
      // op-a renewed at most once more after `held` was read; op-b may take over only once that
      // record stayed unchanged for the lease duration (15 s in the harness) on its own clock.
      const waited = new Date(taken.spec?.acquireTime ?? 0).getTime() - new Date(held.spec?.renewTime ?? 0).getTime();
      assert.ok(waited >= (held.spec?.leaseDurationSeconds ?? 15) * 1000, `op-b acquired ${waited} ms after op-a's renewal: not before the lease ran out`);

      await createSigningKeySecret(clients, ns.name);
      await createPaddleService(clients, ns.name, e2eExample('minimal.yaml', 'after-handover'));
      await waitForValue(() => getPaddleService(clients, ns.name, 'after-handover'), (p) => p.status?.observedGeneration === 1, CONVERGE_TIMEOUT_MS, 'the new leader to reconcile');
    } finally {
      await a.stop();
      await b?.stop();
    }
  });
});
