import assert from 'node:assert/strict';
import { computeBackoffDelay, KeyedBackoff } from '../src/backoff.js';

describe('backoff', () => {
  const opts = { baseMs: 100, maxMs: 1000 };

  const table: Array<[number, number]> = [
    [0, 0],
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1000],
    [60, 1000],
    [5000, 1000],
  ];
  for (const [failures, expected] of table) {
    it(`failure ${failures} waits ${expected} ms`, () => {
      assert.equal(computeBackoffDelay(failures, opts), expected);
    });
  }

  it('jitter stays within the band and under the cap', () => {
    const j = { baseMs: 100, maxMs: 1000, jitter: 0.1 };
    assert.equal(computeBackoffDelay(3, { ...j, random: () => 0 }), 360);
    assert.equal(computeBackoffDelay(3, { ...j, random: () => 1 }), 440);
    assert.equal(computeBackoffDelay(10, { ...j, random: () => 1 }), 1000);
  });

  it('counts per key and forgets', () => {
    const b = new KeyedBackoff(opts);
    assert.equal(b.next('a'), 100);
    assert.equal(b.next('a'), 200);
    assert.equal(b.next('b'), 100);
    assert.equal(b.failures('a'), 2);
    b.forget('a');
    assert.equal(b.failures('a'), 0);
    assert.equal(b.next('a'), 100);
  });
});
