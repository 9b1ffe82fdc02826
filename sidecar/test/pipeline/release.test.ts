// Giving memory back after a large answer (pipeline/release.ts): a full collection now, or one
// soon after the answer went out. Observed through a WeakRef to an object only a full collection
// frees (a large array lives in the old generation's large-object space, which a scavenge never
// sweeps).

import assert from 'node:assert/strict';
import { collectNow, releaseMemorySoon } from '../../src/pipeline/release.js';
import { until } from '../helpers/until.js';

/** A WeakRef to a large unreachable array, made in its own job (a deref keeps a target alive until the job ends). */
async function garbage(): Promise<WeakRef<number[]>> {
  const ref = new WeakRef(new Array<number>(2_000_000).fill(1));
  await new Promise((r) => setImmediate(r));
  return ref;
}

describe('pipeline stage: memory release after large answers', () => {
  it('collectNow runs a full collection at once: an unreachable large object is gone', async () => {
    const ref = await garbage();
    collectNow();
    await new Promise((r) => setImmediate(r));
    assert.equal(ref.deref(), undefined);
  });

  it('releaseMemorySoon collects after the current I/O, not during the call', async () => {
    const ref = await garbage();
    releaseMemorySoon(0);
    assert.notEqual(ref.deref(), undefined, 'nothing is collected inside the call (the answer is still being written)');
    await until('the scheduled full collection', () => ref.deref() === undefined);
  });

  it('calls while a collection is scheduled ask for no second one', async () => {
    const ref = await garbage();
    for (let i = 0; i < 1000; i++) releaseMemorySoon(0);
    await until('the one scheduled full collection', () => ref.deref() === undefined);
  });
});
