// The bounded run queue (pipeline/queue.ts): in-flight and queued bounds, the queue time bound,
// FIFO order, the memory budget shared by runs in flight, and 503 + Retry-After refusals.

import assert from 'node:assert/strict';
import { RunQueue } from '../src/pipeline/queue.js';
import { SidecarError } from '../src/errors.js';

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('pipeline: run queue', () => {
  it('takes free slots synchronously up to maxInFlight, then queues FIFO up to maxQueued, then refuses at once with 503', async () => {
    const q = new RunQueue({ maxInFlight: 2, maxQueued: 2, maxQueueTimeMs: 60000 });
    assert.equal(q.tryEnter(), true);
    assert.equal(q.tryEnter(), true);
    assert.equal(q.tryEnter(), false);
    const order: string[] = [];
    const a = q.enter().then(() => order.push('a'));
    const b = q.enter().then(() => order.push('b'));
    const refused = await q.enter().then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof SidecarError);
    assert.equal(refused.code, 'overloaded');
    assert.equal(refused.httpStatus, 503);
    assert.equal(refused.retryAfterSeconds, 60);
    assert.match(refused.message, /2 runs in flight and 2 waiting \(queue.maxQueued 2\)/);
    assert.deepEqual(q.stats(), { inFlight: 2, queued: 2, reservedBytes: 0, rejectedFull: 1, rejectedTimeout: 0 });
    q.leave();
    await settle();
    assert.deepEqual(order, ['a']);
    q.leave();
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a', 'b']);
    assert.equal(q.stats().inFlight, 2);
  });

  it('a waiter past maxQueueTimeMs gets 503 queue_timeout with Retry-After, and leaves the queue', async () => {
    const q = new RunQueue({ maxInFlight: 1, maxQueued: 10, maxQueueTimeMs: 30 });
    assert.equal(q.tryEnter(), true);
    const started = Date.now();
    const err = await q.enter().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof SidecarError && err.code === 'queue_timeout', String(err));
    assert.equal(err.httpStatus, 503);
    assert.equal(err.retryAfterSeconds, 1);
    assert.ok(Date.now() - started >= 25);
    assert.equal(q.stats().queued, 0);
    assert.equal(q.stats().rejectedTimeout, 1);
    q.leave();
    assert.equal(q.tryEnter(), true, 'the slot is free again');
  });

  it('the time bound counts from arrival: a request that already took maxQueueTimeMs is refused without waiting', async () => {
    const q = new RunQueue({ maxInFlight: 1, maxQueued: 10, maxQueueTimeMs: 60000 });
    assert.equal(q.tryEnter(), true);
    const err = await q.enter(0, 60000).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof SidecarError && err.code === 'queue_timeout', String(err));
    assert.equal(q.stats().queued, 0);
  });

  it('with a memory budget, runs in flight hold their bytes; a waiter starts when its bytes fit; an idle queue takes any run', async () => {
    const q = new RunQueue({ maxInFlight: 4, maxQueued: 4, maxQueueTimeMs: 60000 }, 100);
    assert.equal(q.tryEnter(60), true);
    assert.equal(q.tryEnter(50), false, '60 + 50 > 100');
    let started = false;
    const w = q.enter(50).then(() => (started = true));
    assert.equal(q.tryEnter(10), false, 'FIFO: nobody passes a waiter');
    await settle();
    assert.equal(started, false);
    q.leave(60);
    await w;
    assert.equal(q.stats().reservedBytes, 50);
    q.leave(50);
    assert.equal(q.tryEnter(500), true, 'alone, a run above the budget still starts (admission refuses what can never fit)');
  });

  it('setLimits applies at once (a raised maxInFlight starts waiters)', async () => {
    const q = new RunQueue({ maxInFlight: 1, maxQueued: 4, maxQueueTimeMs: 60000 });
    q.tryEnter();
    const w = q.enter();
    q.setLimits({ maxInFlight: 2, maxQueued: 4, maxQueueTimeMs: 60000 });
    await w;
    assert.equal(q.stats().inFlight, 2);
  });
});
