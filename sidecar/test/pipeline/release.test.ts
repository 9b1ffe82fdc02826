// Giving memory back after a large answer (pipeline/release.ts): a full collection now, or one
// soon after the answer went out. That a collection frees memory is observed through a WeakRef to
// an object only a full collection frees (a large array lives in the old generation's
// large-object space, which a scavenge never sweeps). When a collection runs is observed by
// counting the module's collector calls (setCollector): V8 may collect that array on its own at
// any moment after its allocation (a 16 MB allocation can start incremental marking, which a
// loaded machine lets finish during the next turn), so its survival proves nothing about timing.

import assert from 'node:assert/strict';
import { collectNow, releaseMemorySoon, setCollector } from '../../src/pipeline/release.js';
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
    let calls = 0;
    const real = setCollector(() => void calls++);
    try {
      releaseMemorySoon(0);
      // Checked before the event loop turns again: a follow-up collection another test file
      // scheduled (release.ts runs one 1 s after each) may land in any later turn.
      assert.equal(calls, 0, 'nothing is collected inside the call (the answer is still being written)');
      await until('the scheduled full collection', () => calls >= 1);
    } finally {
      setCollector(real);
    }
  });

  it('the scheduled collection is a full one: an unreachable large object is gone after it', async () => {
    const ref = await garbage();
    releaseMemorySoon(0);
    await until('the scheduled full collection', () => ref.deref() === undefined);
  });

  it('calls while a collection is scheduled ask for no second one', async () => {
    const ref = await garbage();
    for (let i = 0; i < 1000; i++) releaseMemorySoon(0);
    await until('the one scheduled full collection', () => ref.deref() === undefined);
  });
});
