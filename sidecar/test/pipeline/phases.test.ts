// Where an inference's time went (pipeline/phases.ts): the access line's phases_ms from the marks
// a call collected, at microsecond resolution, up to the first missing mark.

import assert from 'node:assert/strict';
import { phaseDurations } from '../../src/pipeline/phases.js';

describe('pipeline stage: inference phases', () => {
  it('parse, queue, run, encode and write from the marks (ms since arrival), rounded to microseconds', () => {
    assert.deepEqual(phaseDurations({ queued: 0.5, started: 0.7, ran: 2.2, encoded: 2.5 }, 3.0004), { parse: 0.5, queue: 0.2, run: 1.5, encode: 0.3, write: 0.5 });
    assert.deepEqual(phaseDurations({ queued: 0.1234567, started: 0.1234567, ran: 1, encoded: 1 }, 1), { parse: 0.123, queue: 0, run: 0.877, encode: 0, write: 0 });
  });

  it('batching on: a batch phase between leaving the run queue and the shared run', () => {
    assert.deepEqual(phaseDurations({ queued: 1, started: 1.5, batched: 2.25, ran: 4, encoded: 4.5 }, 5), { parse: 1, queue: 0.5, batch: 0.75, run: 1.75, encode: 0.5, write: 0.5 });
  });

  it('stops at the first missing mark: a refused, failed or abandoned call shows how far it got', () => {
    assert.deepEqual(phaseDurations({}, 9), {}, 'never reached the queue');
    assert.deepEqual(phaseDurations({ queued: 2 }, 9), { parse: 2 }, 'refused in the queue');
    assert.deepEqual(phaseDurations({ queued: 2, started: 3 }, 9), { parse: 2, queue: 1 }, 'the run failed');
    assert.deepEqual(phaseDurations({ queued: 2, started: 3, ran: 5 }, 9), { parse: 2, queue: 1, run: 2 }, 'the encoding failed: no write phase');
    assert.deepEqual(phaseDurations({ queued: 2, ran: 5, encoded: 6 }, 9), { parse: 2 }, 'a later mark without the one before it is not read');
  });

  it('the phases of a served call add up to its total, within the rounding', () => {
    for (let i = 0; i < 200; i++) {
      const marks = [Math.random(), Math.random(), Math.random(), Math.random(), Math.random()].map((x) => x * 50).sort((a, b) => a - b);
      const [queued, started, batched, ran, encoded] = marks as [number, number, number, number, number];
      const total = encoded + Math.random() * 10;
      const p = phaseDurations({ queued, started, batched: i % 2 ? batched : undefined, ran, encoded }, total);
      const sum = Object.values(p).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - total) <= 0.0005 * Object.keys(p).length, `${JSON.stringify(p)} sums to ${sum}, total ${total}`);
      assert.ok(Object.values(p).every((v) => v >= 0));
    }
  });
});
