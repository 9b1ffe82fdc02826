// Where runs execute (pipeline/inline-runs.ts): the pool until a run of the shape settled within
// the limit, then the main thread (when the run is alone) until one inline run takes longer. The fake predictor's pool
// runs settle at once or after a timer; its inline runs return at once or after a busy wait, so
// "fast" and "slow" are far apart (0 vs 60 ms against a 20 ms limit) on a loaded machine too.

import assert from 'node:assert/strict';
import { RunPlacement, TurnLoad } from '../../src/pipeline/inline-runs.js';
import type { PredictorLike, Tensor } from '../../src/predictor.js';

const LIMIT_US = 20_000;
const SLOW_MS = 60;

type Outputs = Record<string, Tensor>;
const input = (rows: number): Outputs => ({ x: { dtype: 'float32', shape: [rows, 4], data: new Float32Array(rows * 4) } });
const out = (): Outputs => ({ y: { dtype: 'float32', shape: [1], data: new Float32Array([1]) } });

/** A predictor whose pool and inline runs are counted, each fast or slow as set. */
function fake(withSync = true) {
  const calls = { pool: 0, inline: 0 };
  const slow = { pool: false, inline: false };
  let fail: Error | undefined;
  const p = {
    run: async (): Promise<Outputs> => {
      calls.pool++;
      if (fail) throw fail;
      if (slow.pool) await new Promise((r) => setTimeout(r, SLOW_MS));
      return out();
    },
    ...(withSync
      ? {
          runSync: (): Outputs => {
            calls.inline++;
            if (fail) throw fail;
            if (slow.inline) {
              const until = Date.now() + SLOW_MS;
              while (Date.now() < until);
            }
            return out();
          },
        }
      : {}),
    inputs: () => [],
    outputs: () => [],
    info: () => ({}),
    stats: () => ({}),
    dispose: () => undefined,
  } as unknown as PredictorLike;
  return { p, calls, slow, failWith: (e: Error | undefined) => void (fail = e) };
}

/** The next turn of the event loop (after this turn's immediates). */
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('pipeline stage: run placement (main thread or pool)', () => {
  it('a turn is quiet while it and the turn before brought at most one arrival; a busy turn makes the next one busy too; an empty turn ends it', async () => {
    const t = new TurnLoad();
    assert.equal(t.quiet(), true, 'nothing arrived yet');
    t.arrive();
    assert.equal(t.quiet(), true, 'one arrival in this turn');
    await nextTurn();
    t.arrive();
    assert.equal(t.quiet(), true, 'one arrival per turn (a lone caller)');
    t.arrive();
    assert.equal(t.quiet(), false, 'a second arrival in the same turn: callers are queueing');
    await nextTurn();
    t.arrive();
    assert.equal(t.quiet(), false, 'the turn after a busy one (what waited in the sockets arrives now)');
    await nextTurn();
    assert.equal(t.quiet(), true, 'the busy turn is two turns back');
    await nextTurn();
    await nextTurn();
    t.arrive();
    assert.equal(t.quiet(), true, 'after empty turns');
  });


  it('a shape runs on the pool until one of its runs settled within the limit, then on the main thread; other shapes are not moved', async () => {
    const f = fake();
    const place = new RunPlacement(LIMIT_US);
    await place.run(f.p, input(1), 'a', true);
    assert.deepEqual(f.calls, { pool: 1, inline: 0 });
    await place.run(f.p, input(1), 'a', true);
    await place.run(f.p, input(1), 'a', true);
    assert.deepEqual(f.calls, { pool: 1, inline: 2 });
    await place.run(f.p, input(8), 'b', true);
    assert.deepEqual(f.calls, { pool: 2, inline: 2 });
    assert.deepEqual(place.counts, { pool: 2, inline: 2 });
  });

  it('a shape whose pool runs take longer than the limit stays on the pool', async () => {
    const f = fake();
    f.slow.pool = true;
    const place = new RunPlacement(LIMIT_US);
    for (let i = 0; i < 3; i++) await place.run(f.p, input(1), 'a', true);
    assert.deepEqual(f.calls, { pool: 3, inline: 0 });
  });

  it('an inline run longer than the limit sends its shape back to the pool; a fast pool run brings it back', async () => {
    const f = fake();
    const place = new RunPlacement(LIMIT_US);
    await place.run(f.p, input(1), 'a', true);
    f.slow.inline = true;
    await place.run(f.p, input(1), 'a', true);
    assert.deepEqual(f.calls, { pool: 1, inline: 1 });
    await place.run(f.p, input(1), 'a', true);
    assert.deepEqual(f.calls, { pool: 2, inline: 1 }, 'after the slow inline run the shape ran on the pool');
    f.slow.inline = false;
    await place.run(f.p, input(1), 'a', true);
    assert.deepEqual(f.calls, { pool: 2, inline: 2 });
  });

  it('limit 0, or a predictor without runSync: every run on the pool', async () => {
    const f = fake();
    const off = new RunPlacement(0);
    for (let i = 0; i < 3; i++) await off.run(f.p, input(1), 'a', true);
    assert.deepEqual(f.calls, { pool: 3, inline: 0 });
    const g = fake(false);
    const place = new RunPlacement(LIMIT_US);
    for (let i = 0; i < 3; i++) await place.run(g.p, input(1), 'a', true);
    assert.deepEqual(g.calls, { pool: 3, inline: 0 });
  });

  it('an inline run that throws rejects the call with that error (the input error reaches the caller as from the pool)', async () => {
    const f = fake();
    const place = new RunPlacement(LIMIT_US);
    await place.run(f.p, input(1), 'a', true);
    const err = Object.assign(new Error('input "x": shape [1,4] does not fit'), { name: 'ShapeError' });
    f.failWith(err);
    await assert.rejects(place.run(f.p, input(1), 'a', true), (e: Error) => e === err);
    assert.deepEqual(f.calls, { pool: 1, inline: 1 });
  });

  it('a run that is not alone stays on the pool, and does not move its shape', async () => {
    const f = fake();
    const place = new RunPlacement(LIMIT_US);
    await place.run(f.p, input(1), 'a', false);
    await place.run(f.p, input(1), 'a', false);
    assert.deepEqual(f.calls, { pool: 2, inline: 0 });
    await place.run(f.p, input(1), 'a', true);
    await place.run(f.p, input(1), 'a', false);
    assert.deepEqual(f.calls, { pool: 4, inline: 0 }, 'inline shape, but not alone');
    await place.run(f.p, input(1), 'a', true);
    assert.deepEqual(f.calls, { pool: 4, inline: 1 });
  });

  it('the engine\'s own compute time decides where the predictor reports it: a pool run slower than the limit (the hop) moves a shape whose compute is short', async () => {
    const f = fake();
    f.slow.pool = true;
    let computeMs = 1;
    (f.p as { stats: () => unknown }).stats = () => ({ lastRun: { latencyMs: computeMs } });
    const place = new RunPlacement(LIMIT_US);
    await place.run(f.p, input(1), 'a', true);
    await place.run(f.p, input(1), 'a', true);
    assert.deepEqual(f.calls, { pool: 1, inline: 1 });
    computeMs = 50;
    await place.run(f.p, input(4), 'b', true);
    await place.run(f.p, input(4), 'b', true);
    assert.deepEqual(f.calls, { pool: 3, inline: 1 }, 'a long compute keeps its shape on the pool');
  });

  it('placement is per predictor: a shape moved on one predictor still starts on the pool on another', async () => {
    const f = fake();
    const g = fake();
    const place = new RunPlacement(LIMIT_US);
    await place.run(f.p, input(1), 'a', true);
    await place.run(g.p, input(1), 'a', true);
    assert.deepEqual(g.calls, { pool: 1, inline: 0 });
    assert.equal(place.inline(f.p, 'a'), true);
  });
});
