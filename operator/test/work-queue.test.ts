import assert from 'node:assert/strict';
import type { PaddleService } from '../../crds/src/index.js';
import { isSteady } from '../src/controller.js';
import { WorkQueue } from '../src/work-queue.js';
import { FakeClock, flush } from './fake-clock.js';

function newQueue(clock = new FakeClock()): { q: WorkQueue; clock: FakeClock; depths: number[] } {
  const depths: number[] = [];
  const q = new WorkQueue({ clock, backoff: { baseMs: 100, maxMs: 1000 }, onDepthChange: (d) => depths.push(d) });
  return { q, clock, depths };
}

describe('WorkQueue', () => {
  it('dedups a key added many times while waiting', async () => {
    const { q } = newQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('a');
    assert.equal(q.depth, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.depth, 0);
  });

  it('never hands one key to two workers; an add during processing requeues after done', async () => {
    const { q } = newQueue();
    q.add('a');
    const first = await q.get();
    assert.equal(first, 'a');
    q.add('a');
    assert.equal(q.depth, 0, 'in-flight key is not queued a second time');
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await flush();
    assert.equal(second, undefined);
    q.done('a');
    await flush();
    assert.equal(second, 'a');
  });

  it('a key done without a new add is not requeued', async () => {
    const { q } = newQueue();
    q.add('a');
    await q.get();
    q.done('a');
    assert.equal(q.depth, 0);
  });

  it('wakes a waiting worker on add', async () => {
    const { q } = newQueue();
    const got = q.get();
    q.add('x');
    assert.equal(await got, 'x');
  });

  it('addAfter delivers at the deadline and keeps the earliest', async () => {
    const { q, clock } = newQueue();
    q.addAfter('a', 500);
    q.addAfter('a', 200);
    q.addAfter('a', 900);
    assert.equal(q.delayedCount, 1);
    await clock.advance(199);
    assert.equal(q.depth, 0);
    await clock.advance(1);
    assert.equal(q.depth, 1);
    assert.equal(q.delayedCount, 0);
    await clock.advance(1000);
    assert.equal(q.depth, 1, 'the later deadlines were dropped, not delivered again');
  });

  it('add cancels a pending delayed add', async () => {
    const { q, clock } = newQueue();
    q.addAfter('a', 500);
    q.add('a');
    assert.equal(q.delayedCount, 0);
    assert.equal(await q.get(), 'a');
    q.done('a');
    await clock.advance(600);
    assert.equal(q.depth, 0);
  });

  it('rate-limited retries back off exponentially per key and reset on forget', async () => {
    const { q, clock } = newQueue();
    assert.equal(q.addRateLimited('a'), 100);
    await clock.advance(100);
    assert.equal(await q.get(), 'a');
    q.done('a');
    assert.equal(q.addRateLimited('a'), 200);
    assert.equal(q.addRateLimited('b'), 100, 'another key has its own count');
    await clock.advance(199);
    assert.equal(await q.get(), 'b');
    q.done('b');
    assert.equal(q.depth, 0);
    await clock.advance(1);
    assert.equal(await q.get(), 'a');
    q.done('a');
    assert.equal(q.addRateLimited('a'), 400);
    assert.equal(q.addRateLimited('a'), 800);
    assert.equal(q.addRateLimited('a'), 1000, 'capped');
    q.forget('a');
    assert.equal(q.failures('a'), 0);
    assert.equal(q.addRateLimited('a'), 100);
  });

  it('a capped rate-limited retry waits at most the cap', async () => {
    const { q } = newQueue();
    for (let i = 0; i < 5; i++) q.addRateLimited('a');
    assert.equal(q.addRateLimited('a', 250), 250);
    assert.equal(q.failures('a'), 6, 'the failure count still grows');
  });

  it('reports depth changes', async () => {
    const { q, depths } = newQueue();
    q.add('a');
    q.add('b');
    await q.get();
    assert.deepEqual(depths, [1, 2, 1]);
  });

  it('shutdown releases waiting workers and drains what is queued', async () => {
    const { q } = newQueue();
    const waiting = q.get();
    q.shutdown();
    assert.equal(await waiting, undefined);
    q.add('late');
    assert.equal(q.depth, 0, 'adds after shutdown are ignored');

    const { q: q2, clock } = newQueue();
    q2.add('a');
    q2.addAfter('b', 100);
    q2.shutdown();
    assert.equal(await q2.get(), 'a');
    await clock.advance(200);
    assert.equal(await q2.get(), undefined);
  });

  describe('lanes: first-seen keys and the others take turns', () => {
    it('1000 first-seen keys do not hold back a known key added after them', async () => {
      const { q } = newQueue();
      for (let i = 0; i < 1000; i++) q.add(`new-${i}`, { first: true });
      q.add('known-a');
      const order: string[] = [];
      for (let i = 0; i < 4; i++) order.push((await q.get()) as string);
      assert.deepEqual(order, ['new-0', 'known-a', 'new-1', 'new-2']);
      assert.equal(q.depth, 997);
    });

    it('a steady stream of known keys does not starve first-seen ones: strict turns', async () => {
      const { q } = newQueue();
      for (let i = 0; i < 3; i++) q.add(`new-${i}`, { first: true });
      for (let i = 0; i < 3; i++) q.add(`k-${i}`);
      const order: string[] = [];
      for (let i = 0; i < 6; i++) {
        const key = (await q.get()) as string;
        order.push(key);
        q.done(key);
        if (key.startsWith('k-')) q.add(`k-${i + 3}`); // the known lane never runs dry
      }
      assert.deepEqual(order, ['new-0', 'k-0', 'new-1', 'k-1', 'new-2', 'k-2']);
    });

    it('dedup across lanes: a waiting key stays in the lane it joined; depth counts both lanes', async () => {
      const { q, depths } = newQueue();
      q.add('a', { first: true });
      q.add('a');
      q.add('b');
      assert.equal(q.depth, 2);
      assert.deepEqual(depths, [1, 2]);
      assert.equal(await q.get(), 'a');
      assert.equal(await q.get(), 'b');
      assert.equal(q.depth, 0);
    });

    it('a first-seen key added while it is processed is requeued after done, in its lane', async () => {
      const { q } = newQueue();
      q.add('x', { first: true });
      assert.equal(await q.get(), 'x');
      q.add('x', { first: true });
      q.add('y');
      q.done('x');
      // The last key served came from the first lane: the other lane's turn.
      assert.equal(await q.get(), 'y');
      assert.equal(await q.get(), 'x');
    });
  });

  describe('the steady lane: housekeeping of Ready PaddleServices (reports, resyncs) takes turns too', () => {
    it('500 waiting steady keys do not hold back a key that may need a change; the three lanes rotate', async () => {
      const { q } = newQueue();
      for (let i = 0; i < 3; i++) q.add(`new-${i}`, { first: true });
      for (let i = 0; i < 500; i++) q.add(`s-${i}`, { steady: true });
      q.add('k-0');
      const order: string[] = [];
      for (let i = 0; i < 7; i++) order.push((await q.get()) as string);
      assert.deepEqual(order, ['new-0', 'k-0', 's-0', 'new-1', 's-1', 'new-2', 's-2']);
      assert.equal(q.depth, 497);
    });

    it('a waiting steady key added again without `steady` moves to the others (ahead of the steady ones)', async () => {
      const { q } = newQueue();
      for (let i = 0; i < 10; i++) q.add(`s-${i}`, { steady: true });
      q.add('s-7');
      assert.equal(q.depth, 10, 'moved, not duplicated');
      assert.equal(await q.get(), 's-7');
      assert.equal(await q.get(), 's-0');
    });

    it('a waiting key of the others is not demoted by a steady add; in flight, the last add decides its lane', async () => {
      const { q } = newQueue();
      q.add('a');
      q.add('a', { steady: true });
      q.add('s', { steady: true });
      assert.equal(await q.get(), 'a');
      q.add('a', { steady: true });
      q.add('a');
      q.add('b', { steady: true });
      q.done('a');
      // 'a' was taken from lane 1: the next turn is the steady lane's ('s'), then 'a' in lane 1, then 'b'.
      assert.deepEqual([await q.get(), await q.get(), await q.get()], ['s', 'a', 'b']);
    });
  });

  describe('isSteady (controller): which PaddleService updates go to the steady lane', () => {
    const ps = (generation: number, observed: number, ready: 'True' | 'False') =>
      ({ apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService', metadata: { name: 'p', generation }, spec: {}, status: { observedGeneration: observed, conditions: [{ type: 'Ready', status: ready }] } }) as unknown as PaddleService;
    it('Ready=True for the current spec: steady (a report); not Ready, or a spec the status has not seen: not', () => {
      assert.equal(isSteady(ps(2, 2, 'True')), true);
      assert.equal(isSteady(ps(3, 2, 'True')), false, 'a spec change');
      assert.equal(isSteady(ps(2, 2, 'False')), false, 'on its way up (e.g. its first report)');
      assert.equal(isSteady({ ...ps(1, 1, 'True'), status: {} } as PaddleService), false, 'no status yet');
    });
  });
});
