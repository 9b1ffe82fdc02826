// The dynamic batcher (batcher.ts): merge along the batch dimension and split back (each caller
// gets exactly the rows a run of its own gives, on the real MLP predictor), queue rules (max
// size, preferred sizes, max delay, one run at a time), a failing merged run answering each
// caller alone, and requests that cannot be merged running alone.

import assert from 'node:assert/strict';
import { batchable, DynamicBatcher, mergeInputs, splitOutputs } from '../src/batcher.js';
import type { Tensor } from '../src/predictor.js';
import { loadMlpPredictor, MLP_INPUT, MLP_OUTPUT } from './helpers/predictors.js';

const row = (rows: number, seed: number): Record<string, Tensor> => ({
  [MLP_INPUT]: { dtype: 'float32', shape: [rows, 64], data: Float32Array.from({ length: rows * 64 }, (_, i) => Math.sin(seed * 97 + i) ) },
});

/** A predictor of our own that records the batch sizes it ran and echoes row sums. */
function recorder(delayMs = 0) {
  const batches: number[] = [];
  let active = 0;
  let maxActive = 0;
  const run = async (inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> => {
    active++;
    maxActive = Math.max(maxActive, active);
    const x = inputs.x as Tensor;
    const rows = x.shape[0] ?? 0;
    batches.push(rows);
    await new Promise((r) => setTimeout(r, delayMs));
    active--;
    if ((x.data as Float32Array).some((v) => Number.isNaN(v))) throw Object.assign(new Error('nan input'), { name: 'ShapeError' });
    const per = x.data.length / rows;
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r++) for (let i = 0; i < per; i++) out[r] = (out[r] ?? 0) + Number(x.data[r * per + i]);
    return { y: { dtype: 'float32', shape: [rows], data: out } };
  };
  return { run, batches, maxActive: () => maxActive };
}

const xs = (rows: number, v: number): Record<string, Tensor> => ({ x: { dtype: 'float32', shape: [rows, 2], data: new Float32Array(rows * 2).fill(v) } });

describe('dynamic batcher', () => {
  it('batchable needs a dynamic first dimension on every input', () => {
    assert.equal(batchable([{ name: 'x', dtype: 'float32', shape: [-1, 64] }]), true);
    assert.equal(batchable([{ name: 'x', dtype: 'float32', shape: [1, 64] }]), false);
    assert.equal(batchable([{ name: 'a', dtype: 'int64', shape: [-1, -1] }, { name: 'b', dtype: 'int64', shape: [2] }]), false);
  });

  it('merge then split gives each caller its own rows', () => {
    const a = xs(1, 1);
    const b = xs(3, 2);
    const m = mergeInputs([{ inputs: a, rows: 1 }, { inputs: b, rows: 3 }]);
    assert.deepEqual(m.x?.shape, [4, 2]);
    assert.deepEqual([...(m.x?.data as Float32Array)], [1, 1, 2, 2, 2, 2, 2, 2]);
    const parts = splitOutputs({ y: { dtype: 'float32', shape: [4, 1], data: new Float32Array([10, 20, 30, 40]) } }, [1, 3]);
    assert.deepEqual(parts.map((p) => [p.y?.shape, [...(p.y?.data as Float32Array)]]), [[[1, 1], [10]], [[3, 1], [20, 30, 40]]]);
    assert.throws(() => splitOutputs({ y: { dtype: 'float32', shape: [1], data: new Float32Array([1]) } }, [1, 3]), /does not keep the batch dimension/);
  });

  it('concurrent callers share one run up to maxBatchSize; results equal running alone', async () => {
    const r = recorder(5);
    const b = new DynamicBatcher(r.run, { maxBatchSize: 4, maxQueueDelayMicroseconds: 50_000, preferredBatchSizes: [] });
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((v) => b.submit(xs(1, v))));
    assert.deepEqual(results.map((x) => (x.outputs.y?.data as Float32Array)[0]), [2, 4, 6, 8, 10, 12]);
    assert.deepEqual(r.batches, [4, 2], 'a full batch leaves at once; the rest after the delay or when the slot frees');
    assert.equal(r.maxActive(), 1, 'one batch at a time');
    assert.equal(results[0]?.batchRequests, 4);
  });

  it('a preferred size leaves without waiting for the delay', async () => {
    const r = recorder();
    // A delay longer than the test's timeout: answered at all means it did not wait for it
    // (no bound on how fast, which a loaded machine could miss).
    const b = new DynamicBatcher(r.run, { maxBatchSize: 8, maxQueueDelayMicroseconds: 3_600_000_000, preferredBatchSizes: [2] });
    const t0 = Date.now();
    await Promise.all([b.submit(xs(1, 1)), b.submit(xs(1, 2))]);
    assert.ok(Date.now() - t0 < 3_600_000, 'did not wait the 1 h delay');
    assert.deepEqual(r.batches, [2]);
  });

  it('a lone caller waits at most the max queue delay', async () => {
    const r = recorder();
    const b = new DynamicBatcher(r.run, { maxBatchSize: 8, maxQueueDelayMicroseconds: 20_000, preferredBatchSizes: [] });
    const t0 = process.hrtime.bigint();
    await b.submit(xs(1, 1));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms >= 19, `waited ${ms} ms for company`);
    assert.deepEqual(r.batches, [1]);
  });

  it('with no delay a lone request leaves at once; once requests come together, those of one event-loop turn leave together', async () => {
    const r = recorder();
    const b = new DynamicBatcher(r.run, { maxBatchSize: 8, maxQueueDelayMicroseconds: 0, preferredBatchSizes: [] });
    const t0 = process.hrtime.bigint();
    const lone = b.submit(xs(1, 1));
    assert.deepEqual(r.batches, [1], 'started before submit returned');
    const first = await lone;
    assert.ok(first.launched >= t0 && first.launched <= process.hrtime.bigint(), 'launched is stamped between submit and answer');
    await new Promise((res) => setImmediate(res)); // the run slot is given back after the answer
    // A wave after lone requests: its first request still leaves at once, the rest wait for that run.
    await Promise.all([2, 3, 4].map((v) => b.submit(xs(1, v))));
    assert.deepEqual(r.batches, [1, 1, 2]);
    // Requests now come together: the next wave waits for the end of its turn and leaves as one run.
    const wave = [5, 6, 7].map((v) => b.submit(xs(1, v)));
    assert.deepEqual(r.batches, [1, 1, 2], 'nothing left before the end of the turn');
    const got = await Promise.all(wave);
    assert.deepEqual(r.batches, [1, 1, 2, 3]);
    assert.deepEqual(got.map((x) => x.batchRequests), [3, 3, 3]);
    assert.deepEqual([b.sizes[1], b.sizes[2], b.sizes[3]], [2, 1, 1], 'runs by requests served');
    assert.deepEqual(b.stats, { runs: 4, requests: 7, mergedRuns: 2, rows: 7 });
  });

  it('with no delay, requests that arrive while the run slot is busy leave together when it frees', async () => {
    const r = recorder(20);
    const b = new DynamicBatcher(r.run, { maxBatchSize: 8, maxQueueDelayMicroseconds: 0, preferredBatchSizes: [] });
    const first = b.submit(xs(1, 1));
    // Later turns, while the first run is in flight.
    await new Promise((res) => setImmediate(res));
    const next = [b.submit(xs(1, 2))];
    await new Promise((res) => setImmediate(res));
    next.push(b.submit(xs(1, 3)));
    await Promise.all([first, ...next]);
    assert.deepEqual(r.batches, [1, 2]);
    assert.equal(r.maxActive(), 1);
  });

  it('different non-batch shapes never share a run; oversize requests run alone', async () => {
    const r = recorder();
    const b = new DynamicBatcher(r.run, { maxBatchSize: 4, maxQueueDelayMicroseconds: 1000, preferredBatchSizes: [], maxInflightBatches: 4 });
    const wide = { x: { dtype: 'float32' as const, shape: [1, 3], data: new Float32Array(3).fill(1) } };
    await Promise.all([b.submit(xs(1, 1)), b.submit(wide), b.submit(xs(5, 1))]);
    assert.deepEqual([...r.batches].sort(), [1, 1, 5]);
  });

  it('the shape key passed by the predictor stage reuses the queue key only while the dtypes repeat too', async () => {
    const r = recorder();
    const b = new DynamicBatcher(r.run, { maxBatchSize: 8, maxQueueDelayMicroseconds: 1000, preferredBatchSizes: [], maxInflightBatches: 4 });
    const ints = { x: { dtype: 'int32' as const, shape: [1, 2], data: new Int32Array(2).fill(1) } };
    // One shape key (names and shapes) for all four: the float32 pair shares a run, the int32 one does not join it.
    const got = await Promise.all([b.submit(xs(1, 1), 'x:1x2;'), b.submit(xs(1, 2), 'x:1x2;'), b.submit(ints, 'x:1x2;'), b.submit(xs(2, 3), 'x:2x2;')]);
    assert.deepEqual([...r.batches].sort(), [1, 4]);
    assert.deepEqual(got.map((x) => x.batchRequests), [3, 3, 1, 3]);
    assert.deepEqual(got.map((x) => x.outputs.y?.shape[0]), [1, 1, 1, 2]);
  });

  it('the run function learns which runs serve one request (with its shape key) and which are merged', async () => {
    const r = recorder();
    const seen: (string | undefined)[] = [];
    const b = new DynamicBatcher((inputs, single) => (seen.push(single), r.run(inputs)), { maxBatchSize: 4, maxQueueDelayMicroseconds: 1000, preferredBatchSizes: [] });
    await b.submit(xs(1, 1), 'x:1x2;');
    await Promise.all([b.submit(xs(1, 1), 'x:1x2;'), b.submit(xs(1, 2), 'x:1x2;')]);
    await b.submit(xs(6, 1), 'x:6x2;');
    await b.submit(xs(1, 1));
    assert.deepEqual(r.batches, [1, 2, 6, 1]);
    assert.deepEqual(seen, ['x:1x2;', undefined, 'x:6x2;', undefined], 'one request: its key (oversize too); merged, or no key given: none');
  });

  it('a failing merged run answers each caller alone: only the bad one fails', async () => {
    const r = recorder();
    const b = new DynamicBatcher(r.run, { maxBatchSize: 3, maxQueueDelayMicroseconds: 50_000, preferredBatchSizes: [] });
    const out = await Promise.allSettled([b.submit(xs(1, 1)), b.submit(xs(1, NaN)), b.submit(xs(1, 3))]);
    assert.deepEqual(out.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.match(String((out[1] as PromiseRejectedResult).reason), /nan input/);
    assert.deepEqual(r.batches, [3, 1, 1, 1]);
    assert.equal(r.maxActive(), 1, 'the retries run one after the other in the batch\'s run slot');
  });

  it('on the real MLP predictor a merged run gives each caller exactly its own run\'s outputs', async function () {
    this.timeout(120000);
    const p = await loadMlpPredictor();
    const b = new DynamicBatcher((i) => p.run(i), { maxBatchSize: 16, maxQueueDelayMicroseconds: 50_000, preferredBatchSizes: [] });
    const reqs = [1, 2, 3, 1, 4].map((rows, i) => row(rows, i));
    const merged = await Promise.all(reqs.map((q) => b.submit(q)));
    assert.equal(merged[0]?.batchRequests, 5);
    for (const [i, q] of reqs.entries()) {
      const alone = await p.run(q);
      assert.deepEqual(merged[i]?.outputs[MLP_OUTPUT]?.shape, alone[MLP_OUTPUT]?.shape);
      const got = merged[i]?.outputs[MLP_OUTPUT]?.data as Float32Array;
      const want = alone[MLP_OUTPUT]?.data as Float32Array;
      let diff = 0;
      for (let j = 0; j < want.length; j++) diff = Math.max(diff, Math.abs((got[j] ?? 0) - (want[j] ?? 0)));
      assert.ok(diff < 1e-6, `request ${i}: max diff ${diff}`);
    }
  });
});
