import assert from 'node:assert/strict';
import { SidecarError } from '../../src/errors.js';
import { ObservationMatrix } from '../../src/matrix.js';
import { createBreakers } from '../../src/pipeline/breaker-gate.js';
import { CallContext } from '../../src/pipeline/context.js';
import { Predict } from '../../src/pipeline/predict.js';
import { ServingModes } from '../../src/pipeline/serving-mode.js';
import type { PredictorLike, Tensor } from '../../src/predictor.js';
import { SampleRing } from '../../src/quantiles.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { InProcessMlp } from '../helpers/predictors.js';
import { kit, type Kit } from './kit.js';

const x = (rows: number): Record<string, Tensor> => ({ x: { dtype: 'float32', shape: [rows, 64], data: new Float32Array(rows * 64).fill(0.1) } });
const status = (code: number) => (e: unknown): boolean => e instanceof SidecarError && e.httpStatus === code;

function setup(o: { budgetBytes?: number; overrides?: Record<string, unknown>; predictor?: InProcessMlp; inlineRunMicros?: number } = {}) {
  const k: Kit = kit(o.overrides);
  const predictor = o.predictor ?? new InProcessMlp();
  const modes = new ServingModes({ predictor, device: 'cpu', metrics: k.metrics, log: k.loggers.event, config: () => k.config });
  const breakers = createBreakers({ config: k.config.breaker, clock: new ManualClock(), probe: () => Promise.resolve({ ok: true, latencyMs: 1 }), metrics: k.metrics, log: k.loggers.event, onChange: () => undefined });
  let failures = 0;
  const counts = { total: 0, errors: 0 };
  const latencies = new SampleRing(100);
  const p = new Predict({
    config: () => k.config, predictor, modes, breakers, budgetBytes: o.budgetBytes ?? 0, defaultMaxInFlight: 1, tracer: k.tracer, metrics: k.metrics,
    matrix: new ObservationMatrix(k.config.matrix), latencies, counts, gpuProcessMemory: () => 0, onFailure: () => failures++,
    ...(o.inlineRunMicros !== undefined ? { inlineRunMicros: o.inlineRunMicros } : {}),
  });
  const ctx = new CallContext(k.tracer, () => k.config);
  return { k, p, predictor, breakers, counts, latencies, failures: () => failures, call: () => ctx.open('POST', '/v2/models/mlp/infer', {}, undefined) };
}

describe('pipeline stages 9-11: admission -> degradation -> breaker -> queue -> predictor', () => {
  it('runs, records latency and counts, labels the call for the duration histogram', async () => {
    const s = setup();
    const call = s.call();
    const out = await s.p.run(call, x(2));
    assert.deepEqual(out['softmax_0.tmp_0']?.shape, [2, 10]);
    assert.deepEqual(call.inference, { device: 'cpu', seqLenBucket: call.inference?.seqLenBucket });
    assert.equal(s.counts.total, 1);
    assert.equal(s.latencies.values().length, 1);
    assert.equal(s.p.queue.stats().inFlight, 0, 'the slot is given back');
    s.breakers.stop();
  });

  it('an input the model refuses is 400 and never counts toward the breaker; a failing predictor is 500, counted, and starts a self-check', async () => {
    const s = setup();
    for (let i = 0; i < 10; i++) await assert.rejects(s.p.run(s.call(), { x: { dtype: 'float32', shape: [1, 63], data: new Float32Array(63) } }), status(400));
    assert.equal(s.breakers.control.state, 'closed');
    assert.equal(s.failures(), 0);
    s.predictor.run = () => Promise.reject(new Error('kernel crashed'));
    await assert.rejects(s.p.run(s.call(), x(1)), (e: unknown) => status(500)(e) && (e as SidecarError).code === 'inference_failed');
    assert.equal(s.counts.errors, 1);
    assert.equal(s.failures(), 1);
    s.breakers.stop();
  });

  it('admission refuses a run above the memory budget (422) before it queues or runs', async () => {
    const s = setup({ budgetBytes: 4096 });
    await assert.rejects(s.p.run(s.call(), x(64)), (e: unknown) => status(422)(e) && /above the memory budget/.test((e as Error).message));
    assert.equal(s.predictor.runs, 0);
    await s.p.run(s.call(), x(1));
    assert.equal(s.predictor.runs, 1);
    s.breakers.stop();
  });

  it('an open breaker refuses the group before the queue', async () => {
    const s = setup();
    s.breakers.control.trip('test');
    await assert.rejects(s.p.run(s.call(), x(1)), (e: unknown) => status(503)(e) && (e as SidecarError).code === 'breaker_open');
    assert.equal(s.predictor.runs, 0);
    s.breakers.stop();
  });

  it('queue limits follow the config: run slots default, maxInFlight, batching multiplies by maxBatchSize', () => {
    const s = setup();
    const c = s.k.config;
    assert.equal(s.p.queueLimits(c).maxInFlight, 1);
    assert.equal(s.p.queueLimits({ ...c, queue: { ...c.queue, maxInFlight: 3 } }).maxInFlight, 3);
    const batched = { ...c, batching: { ...c.batching, enabled: true, maxBatchSize: 8 } };
    assert.equal(s.p.queueLimits(batched).maxInFlight, 8);
    assert.equal(s.p.batching(batched), s.p.batching(batched), 'cached per config');
    assert.equal(s.p.batching(c), undefined);
    s.breakers.stop();
  });

  /** An InProcessMlp whose runs say where they ran: the pool (run) or the main thread (runSync). */
  function placed(): { predictor: InProcessMlp; where: string[] } {
    const predictor = new InProcessMlp();
    const where: string[] = [];
    const pool = predictor.run.bind(predictor);
    predictor.run = (inputs) => {
      where.push(`pool:${inputs.x?.shape[0]}`);
      return pool(inputs);
    };
    (predictor as PredictorLike).runSync = (inputs) => {
      const rows = inputs.x?.shape[0] ?? 0;
      where.push(`inline:${rows}`);
      return { 'softmax_0.tmp_0': { dtype: 'float32', shape: [rows, 10], data: new Float32Array(rows * 10) } };
    };
    return { predictor, where };
  }
  const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
  const turns = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await nextTurn();
  };

  it('--inline-run-us: a lone short run executes on the main thread in a quiet turn; a second arrival in the same turn, or the turn after, goes to the pool', async () => {
    const { predictor, where } = placed();
    const s = setup({ predictor, inlineRunMicros: 20_000 });
    await s.p.run(s.call(), x(1));
    assert.deepEqual(where, ['pool:1'], 'an unknown shape runs on the pool first');
    await turns(3);
    await s.p.run(s.call(), x(1));
    assert.deepEqual(where.slice(1), ['inline:1'], 'known short, alone, quiet turn');
    // Same turn (the inline run settled in microtasks): a second arrival says callers are queueing.
    await s.p.run(s.call(), x(1));
    assert.deepEqual(where.slice(2), ['pool:1'], 'a second arrival in one turn runs on the pool');
    await turns(3);
    await s.p.run(s.call(), x(1));
    assert.deepEqual(where.slice(3), ['inline:1'], 'quiet again after empty turns');
    s.breakers.stop();
  });

  it('--inline-run-us with batching on: a batch of one request is placed like a lone run; merged batches run on the pool', async () => {
    const { predictor, where } = placed();
    // A queue delay, so that requests of one turn wait for each other (with 0 a lone request leaves at once).
    const s = setup({ predictor, inlineRunMicros: 20_000, overrides: { batching: { enabled: true, maxBatchSize: 8, maxQueueDelayMicroseconds: 1000 } } });
    assert.ok(s.p.batching(s.k.config), 'batching applies');
    await s.p.run(s.call(), x(1));
    await turns(3);
    await s.p.run(s.call(), x(1));
    assert.deepEqual(where, ['pool:1', 'inline:1']);
    await turns(3);
    const both = await Promise.all([s.p.run(s.call(), x(1)), s.p.run(s.call(), x(2))]);
    assert.deepEqual(both.map((o) => o['softmax_0.tmp_0']?.shape), [[1, 10], [2, 10]]);
    assert.deepEqual(where.slice(2), ['pool:3'], 'two requests of one turn: one merged run, on the pool');
    await turns(3);
    await s.p.run(s.call(), x(1));
    assert.deepEqual(where.slice(3), ['inline:1'], 'a lone request again');
    s.breakers.stop();
  });

  it('--inline-run-us 0: every run on the pool, whatever the turn', async () => {
    const { predictor, where } = placed();
    const s = setup({ predictor, inlineRunMicros: 0 });
    for (let i = 0; i < 3; i++) {
      await s.p.run(s.call(), x(1));
      await turns(3);
    }
    assert.deepEqual(where, ['pool:1', 'pool:1', 'pool:1']);
    s.breakers.stop();
  });
});
