// What the run queue reads per input shape (pipeline/service-times.ts): the slowest recent
// service time, the fastest within the window (its "one run"), whether a shape is short, and the
// shape key itself.

import assert from 'node:assert/strict';
import { ServiceTimes, shapeKey } from '../../src/pipeline/service-times.js';

/** A clock the test moves (ms). */
function movableClock(): { t: number; now: () => number } {
  const c = { t: 1_000_000, now: (): number => c.t };
  return c;
}

describe('pipeline stage: service times per shape', () => {
  it('slow = slowest of the last 32, oneRun = fastest of the last ten minutes; unseen shapes use all shapes', () => {
    const clock = movableClock();
    const t = new ServiceTimes(clock.now);
    const k = shapeKey({ b: { shape: [2] }, a: { shape: [1, 3] } });
    assert.equal(k, 'a:1x3;b:2;', 'names sorted, shapes joined');
    assert.deepEqual([t.slow(k), t.oneRun(k)], [0, 0], 'no figures yet: no correction');
    t.observe(k, 500);
    for (let i = 0; i < 32; i++) t.observe(k, 20 + i);
    assert.equal(t.slow(k), 51, 'the 500 ms run left the last 32');
    assert.equal(t.oneRun(k), 20);
    t.observe('other', 5);
    assert.equal(t.oneRun('never-seen'), 5, 'all shapes together');
    assert.equal(t.slow('never-seen'), 51);
    clock.t += 11 * 60_000;
    t.observe(k, 40);
    assert.equal(t.oneRun(k), 40, 'runs older than the window no longer count as one run');
  });

  it('keeps at most maxKeys shapes, dropping the least recently observed', () => {
    const t = new ServiceTimes(() => 0, 32, 600_000, 2);
    t.observe('a', 1);
    t.observe('b', 2);
    t.observe('a', 1);
    t.observe('c', 3);
    assert.equal(t.slow('b'), 3, 'b was dropped: all shapes figures');
    assert.equal(t.slow('a'), 1);
    assert.equal(t.slow('c'), 3);
  });

  it('isShort reads the shape itself (never the all-shapes figures) within the window', () => {
    const clock = movableClock();
    const t = new ServiceTimes(clock.now);
    t.observe('fast', 0.2);
    t.observe('slow', 40);
    assert.equal(t.isShort('fast', 1), true);
    assert.equal(t.isShort('slow', 1), false);
    assert.equal(t.isShort('never-seen', 1), false, 'an unseen shape is not short, whatever the others did');
    t.observe('slow', 0.5);
    assert.equal(t.isShort('slow', 1), true, 'one fast run in the window makes it short');
    clock.t += 11 * 60_000;
    t.observe('slow', 40);
    assert.equal(t.isShort('slow', 1), false, 'the fast run left the window');
  });

  it('ignores service times that are not finite non-negative numbers', () => {
    const t = new ServiceTimes(() => 0);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1]) t.observe('k', bad);
    assert.deepEqual([t.slow('k'), t.oneRun('k'), t.isShort('k', 1)], [0, 0, false]);
    t.observe('k', 3);
    assert.deepEqual([t.slow('k'), t.oneRun('k')], [3, 3]);
  });

  it('shapeKey: the same string for a repeated shape, a different one for any other names, ranks or sizes', () => {
    const a = shapeKey({ x: { shape: [1, 64] } });
    assert.equal(shapeKey({ x: { shape: [1, 64] } }), a);
    const others = [
      shapeKey({ x: { shape: [1, 6, 4] } }),
      shapeKey({ x: { shape: [16, 4] } }),
      shapeKey({ x: { shape: [2, 64] } }),
      shapeKey({ y: { shape: [1, 64] } }),
      shapeKey({ x: { shape: [1, 64] }, y: { shape: [1] } }),
      shapeKey({ x: { shape: [] } }),
    ];
    assert.equal(new Set([a, ...others]).size, others.length + 1, others.join(' '));
    // The reused key follows the latest shape: a shape seen before the last one is built again, equal.
    assert.equal(shapeKey({ x: { shape: [1, 64] } }), a);
    // A caller that mutates its shape array after the call does not change the remembered shape.
    const shape = [3, 5];
    const k = shapeKey({ x: { shape } });
    shape[0] = 4;
    assert.equal(shapeKey({ x: { shape } }), 'x:4x5;');
    assert.notEqual(k, 'x:4x5;');
  });
});
