// The bounded run queue (pipeline/queue.ts): in-flight and queued bounds, the queue time bound,
// FIFO order, the memory budget shared by runs in flight, and 503 + Retry-After refusals. (The
// service times it reads per shape: service-times.test.ts.)

import assert from 'node:assert/strict';
import { RunQueue, SHORT_RUN_MS } from '../../src/pipeline/queue.js';
import { shapeKey } from '../../src/pipeline/service-times.js';
import { SidecarError } from '../../src/errors.js';

/** A clock the test moves (ms): deadlines and congestion become states, not timings. */
class FakeClock {
  t = 1_000_000;
  readonly now = (): number => this.t;
}
const refusal = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'started', (e: unknown) => e);

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('pipeline stage: run queue', () => {
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
    assert.deepEqual(q.stats(), { inFlight: 2, queued: 2, reservedBytes: 0, rejectedFull: 1, rejectedTimeout: 0, startedNewestFirst: 0, answering: 0 });
    q.leave();
    await settle();
    assert.deepEqual(order, ['a']);
    q.leave();
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a', 'b']);
    assert.equal(q.stats().inFlight, 2);
  });

  it('a waiter abandoned by its holder (its client left) leaves at once with client_closed; a started one no longer can be', async () => {
    const q = new RunQueue({ maxInFlight: 1, maxQueued: 2, maxQueueTimeMs: 60000 });
    assert.equal(q.tryEnter(), true);
    const gone: { abandonWait?: () => void } = {};
    const stays: { abandonWait?: () => void } = {};
    const left = refusal(q.enter(0, 0, '', gone));
    const started = refusal(q.enter(0, 0, '', stays));
    assert.equal(q.stats().queued, 2);
    const abandon = gone.abandonWait;
    assert.equal(typeof abandon, 'function');
    abandon?.();
    const e = await left;
    assert.ok(e instanceof SidecarError);
    assert.equal(e.code, 'client_closed');
    assert.equal(e.httpStatus, 499);
    assert.equal(gone.abandonWait, undefined, 'the holder no longer reaches the queue');
    assert.equal(q.stats().queued, 1, 'its place is free');
    abandon?.(); // idempotent: it is out already
    assert.equal(q.stats().queued, 1);
    q.leave();
    assert.equal(await started, 'started');
    assert.equal(stays.abandonWait, undefined, 'a started waiter cannot be abandoned');
    assert.deepEqual([q.stats().inFlight, q.stats().queued, q.stats().rejectedTimeout], [1, 0, 0]);
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

  it('answers being encoded count: the next run overlaps one encoding, but no more encodings pile up behind the run slot', async () => {
    const q = new RunQueue({ maxInFlight: 1, maxQueued: 10, maxQueueTimeMs: 60000 }, 100);
    assert.equal(q.tryEnter(40), true);
    q.finishRun(); // run 1 over, its answer being encoded (holding its 40 bytes)
    assert.deepEqual([q.stats().inFlight, q.stats().answering, q.stats().reservedBytes], [0, 1, 40]);
    assert.equal(q.tryEnter(40), true, 'run 2 overlaps the encoding of answer 1');
    q.finishRun();
    assert.equal(q.tryEnter(), false, 'answer 1 still encoding, answer 2 waiting to: run 3 waits');
    let started = false;
    const third = q.enter(0).then(() => (started = true));
    q.answered(40);
    assert.equal(q.stats().answering, 1);
    await third;
    assert.equal(started, true, 'answer 1 encoded: run 3 starts');
    q.answered(40);
    q.leave();
    assert.deepEqual([q.stats().inFlight, q.stats().answering, q.stats().reservedBytes], [0, 0, 0]);
  });

  it('a request that cannot be answered within maxQueueTimeMs + one run is refused at once with 503 + Retry-After, never started', async () => {
    const clock = new FakeClock();
    const q = new RunQueue({ maxInFlight: 1, maxQueued: 10, maxQueueTimeMs: 60000 }, 0, clock.now);
    const key = shapeKey({ x: { shape: [3, 128] } });
    // One run of this shape took 10 ms on a free server; the slowest recent took 70 s: a run
    // starting after any wait would answer after 60 s + 10 ms.
    q.observe(key, 10);
    q.observe(key, 70000);
    assert.equal(q.tryEnter(), true);
    const err = await refusal(q.enter(0, 0, key));
    assert.ok(err instanceof SidecarError && err.code === 'queue_timeout', String(err));
    assert.equal(err.httpStatus, 503);
    assert.equal(err.retryAfterSeconds, 60);
    assert.match(err.message, /within queue.maxQueueTimeMs \(60000 ms\) to answer in time \(runs of this shape take up to 70000 ms now, one run 10 ms\)/);
    assert.deepEqual({ queued: q.stats().queued, inFlight: q.stats().inFlight, rejectedTimeout: q.stats().rejectedTimeout }, { queued: 0, inFlight: 1, rejectedTimeout: 1 });
    // Another shape with no figures of its own is judged by all shapes' figures.
    assert.ok((await refusal(q.enter(0, 0, shapeKey({ x: { shape: [1, 8] } })))) instanceof SidecarError);
    // A free slot is taken whatever the estimates: waiting is what the deadline bounds.
    q.leave();
    assert.equal(q.tryEnter(), true);
  });

  it('a waiter whose latest start passed is refused when a slot frees instead of started', async () => {
    const clock = new FakeClock();
    const q = new RunQueue({ maxInFlight: 1, maxQueued: 10, maxQueueTimeMs: 60000 }, 0, clock.now);
    const key = shapeKey({ x: { shape: [3, 128] } });
    q.observe(key, 100);
    q.observe(key, 1100); // latest start: arrival + 60000 + 100 - 1100 = arrival + 59000
    assert.equal(q.tryEnter(), true);
    const late = refusal(q.enter(0, 0, key));
    clock.t += 59001; // (its real timer is a minute away; the slot frees first)
    q.leave();
    const err = await late;
    assert.ok(err instanceof SidecarError && err.code === 'queue_timeout', String(err));
    assert.deepEqual({ queued: q.stats().queued, inFlight: q.stats().inFlight }, { queued: 0, inFlight: 0 });
    // One that can still make it starts.
    assert.equal(q.tryEnter(), true);
    const inTime = refusal(q.enter(0, 0, key));
    clock.t += 58999;
    q.leave();
    assert.equal(await inTime, 'started');
  });

  it('congested (the oldest waiter waited half of maxQueueTimeMs), the newest waiter starts first; else FIFO', async () => {
    const clock = new FakeClock();
    const q = new RunQueue({ maxInFlight: 1, maxQueued: 10, maxQueueTimeMs: 60000 }, 0, clock.now);
    const order: string[] = [];
    assert.equal(q.tryEnter(), true);
    const a = q.enter(0, 0).then(() => order.push('a'));
    clock.t += 1;
    const b = q.enter(0, 0).then(() => order.push('b'));
    clock.t += 1;
    const c = q.enter(0, 0).then(() => order.push('c'));
    clock.t += 1000; // the oldest waited 1 s: not congested
    q.leave();
    await a;
    assert.deepEqual(order, ['a']);
    clock.t += 30000; // b has waited 31 s: congested, c (newest) goes first
    q.leave();
    await c;
    assert.deepEqual(order, ['a', 'c']);
    assert.equal(q.stats().startedNewestFirst, 1);
    q.leave(); // b alone is not "congested" against anyone: it starts
    await b;
    assert.deepEqual(order, ['a', 'c', 'b']);
  });
  it('short runs (a shape served in under SHORT_RUN_MS) may overlap up to shortRunInFlight; unseen and slower shapes keep maxInFlight', async () => {
    const clock = new FakeClock();
    const q = new RunQueue({ maxInFlight: 1, maxQueued: 10, maxQueueTimeMs: 60000, shortRunInFlight: 3 }, 0, clock.now);
    const small = shapeKey({ x: { shape: [1, 64] } });
    const big = shapeKey({ x: { shape: [8, 512] } });
    const unseen = shapeKey({ x: { shape: [2, 64] } });
    q.observe(small, SHORT_RUN_MS / 2);
    q.observe(big, 40);
    assert.equal(q.tryEnter(0, small), true);
    assert.equal(q.tryEnter(0, small), true, 'a short run overlaps');
    assert.equal(q.tryEnter(0, big), false, 'a slow shape waits for maxInFlight');
    assert.equal(q.tryEnter(0, unseen), false, 'a shape never served is not known to be short (the all-shapes figures do not count)');
    assert.equal(q.tryEnter(0, small), true);
    assert.equal(q.tryEnter(0, small), false, 'at most shortRunInFlight');
    const bigStarted = q.enter(0, 0, big).then(() => 'big');
    q.leave();
    q.leave();
    await settle();
    assert.equal(q.stats().queued, 1, 'the slow run waits until fewer than maxInFlight runs are in flight');
    q.leave();
    assert.equal(await bigStarted, 'big');
    assert.equal(q.stats().inFlight, 1);
    q.leave();
    // Ten minutes later the short figure has left the window: the shape is no longer known to be short.
    clock.t += 600_001;
    assert.equal(q.tryEnter(0, small), true);
    assert.equal(q.tryEnter(0, small), false);
    q.leave();
    const plain = new RunQueue({ maxInFlight: 1, maxQueued: 10, maxQueueTimeMs: 60000 }, 0, clock.now);
    plain.observe(small, SHORT_RUN_MS / 2);
    assert.equal(plain.tryEnter(0, small), true);
    assert.equal(plain.tryEnter(0, small), false, 'without shortRunInFlight, maxInFlight holds for every run');
  });
});
