import assert from 'node:assert/strict';
import { LeaderElector, type LeaderElectionConfig } from '../src/leader-election.js';
import { FakeClock } from './fake-clock.js';
import { MemoryLease } from './memory-lease-store.js';

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

function candidate(
  identity: string,
  lease: MemoryLease,
  clock: FakeClock,
  log: string[],
  overrides: Partial<LeaderElectionConfig> = {},
): LeaderElector {
  return new LeaderElector({
    identity,
    ...timing,
    store: lease.client(),
    clock,
    onStartedLeading: () => void log.push(`${identity} started`),
    onStoppedLeading: () => void log.push(`${identity} stopped`),
    ...overrides,
  });
}

describe('LeaderElector', () => {
  it('rejects inconsistent timings', () => {
    const lease = new MemoryLease();
    assert.throws(() => candidate('a', lease, new FakeClock(), [], { renewDeadlineMs: 20_000 }), /renewDeadline/);
    assert.throws(() => candidate('a', lease, new FakeClock(), [], { retryPeriodMs: 10_000 }), /retryPeriod/);
  });

  it('the first candidate creates the lease; the second does not take a live lease', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = candidate('a', lease, clock, []);
    const b = candidate('b', lease, clock, []);
    assert.equal(await a.tryAcquireOrRenew(), true);
    assert.equal(lease.record?.holderIdentity, 'a');
    assert.equal(await b.tryAcquireOrRenew(), false);
    await clock.advance(14_000);
    assert.equal(await a.tryAcquireOrRenew(), true, 'holder renews');
    await clock.advance(14_000);
    assert.equal(await b.tryAcquireOrRenew(), false, 'renewed lease is live again for b');
    assert.equal(lease.record?.leaseTransitions, 0);
  });

  it('a candidate takes over a lease that has not changed for leaseDuration on its own clock', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = candidate('a', lease, clock, []);
    const b = candidate('b', lease, clock, []);
    await a.tryAcquireOrRenew();
    assert.equal(await b.tryAcquireOrRenew(), false); // b first observes the record now
    await clock.advance(14_999);
    assert.equal(await b.tryAcquireOrRenew(), false);
    await clock.advance(1);
    assert.equal(await b.tryAcquireOrRenew(), true);
    assert.equal(lease.record?.holderIdentity, 'b');
    assert.equal(lease.record?.leaseTransitions, 1);
    assert.equal(await a.tryAcquireOrRenew(), false, 'the old holder cannot renew a lease it lost');
  });

  it('a renewTime far in the past does not matter: expiry is measured from observation', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    lease.record = {
      holderIdentity: 'ghost',
      leaseDurationSeconds: 15,
      renewTime: '2000-01-01T00:00:00.000Z',
      leaseTransitions: 3,
      resourceVersion: '9',
    };
    const b = candidate('b', lease, clock, []);
    assert.equal(await b.tryAcquireOrRenew(), false);
    await clock.advance(15_000);
    assert.equal(await b.tryAcquireOrRenew(), true);
    assert.equal(lease.record?.leaseTransitions, 4);
  });

  it('two candidates racing for an expired lease: exactly one wins (resourceVersion check)', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    lease.record = { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0, resourceVersion: '1' };
    const a = candidate('a', lease, clock, []);
    const b = candidate('b', lease, clock, []);
    const results = await Promise.all([a.tryAcquireOrRenew(), b.tryAcquireOrRenew()]);
    assert.deepEqual(results.sort(), [false, true]);
  });

  it('run loop: leader dies -> the standby leads within leaseDuration + 2 retry periods', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const log: string[] = [];
    // A crashed process makes no more calls: after kill(), a's store calls never settle.
    let dead = false;
    const aStore = lease.client();
    const hang = <T>(fn: () => Promise<T>): Promise<T> => (dead ? new Promise<T>(() => undefined) : fn());
    const a = candidate('a', lease, clock, log, {
      store: {
        get: () => hang(() => aStore.get()),
        create: (r) => hang(() => aStore.create(r)),
        update: (r) => hang(() => aStore.update(r)),
      },
    });
    const b = candidate('b', lease, clock, log);
    a.start();
    await clock.advance(0);
    b.start();
    await clock.advance(20_000);
    assert.deepEqual(log, ['a started']);
    assert.equal(a.isLeader, true);
    assert.equal(b.isLeader, false);

    dead = true;
    const killedAt = clock.now();
    let takeoverAt: number | undefined;
    for (let i = 0; i < 40 && takeoverAt === undefined; i++) {
      await clock.advance(500);
      if (b.isLeader) takeoverAt = clock.now();
    }
    assert.ok(takeoverAt !== undefined, 'b took over');
    // b measures expiry from when it last saw the record change (up to one retry period after a's
    // last renewal) and notices expiry on its next poll: the bound is leaseDuration + 2 retry periods.
    assert.ok(takeoverAt - killedAt <= timing.leaseDurationMs + 2 * timing.retryPeriodMs, `handover took ${takeoverAt - killedAt} ms`);
    assert.equal(lease.record?.holderIdentity, 'b');
    assert.deepEqual(log, ['a started', 'b started']);
    await b.stop();
  });

  it('stop() releases the lease so the standby takes over within one retry period', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const log: string[] = [];
    const a = candidate('a', lease, clock, log);
    const b = candidate('b', lease, clock, log);
    a.start();
    await clock.advance(0);
    b.start();
    await clock.advance(5_000);
    await a.stop();
    assert.equal(lease.record?.holderIdentity, '');
    await clock.advance(timing.retryPeriodMs);
    assert.equal(b.isLeader, true);
    assert.deepEqual(log, ['a started', 'a stopped', 'b started']);
    await b.stop();
  });

  it('a leader that cannot renew steps down after renewDeadline, then re-acquires', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const log: string[] = [];
    const errors: unknown[] = [];
    const a = candidate('a', lease, clock, log, { onError: (e) => errors.push(e) });
    a.start();
    await clock.advance(0);
    assert.equal(a.isLeader, true);
    lease.failing = new Error('connection refused');
    await clock.advance(timing.renewDeadlineMs - timing.retryPeriodMs);
    assert.equal(a.isLeader, true, 'still within the renew deadline');
    await clock.advance(timing.retryPeriodMs);
    assert.equal(a.isLeader, false);
    assert.ok(errors.length > 0, 'store errors are reported');
    lease.failing = undefined;
    await clock.advance(timing.retryPeriodMs);
    assert.equal(a.isLeader, true, 'its own unexpired lease is renewed');
    assert.deepEqual(log, ['a started', 'a stopped', 'a started']);
    await a.stop();
  });
});
