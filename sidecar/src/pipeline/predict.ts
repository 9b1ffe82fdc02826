// Stages 9-11 for one inference, in their order: admission (memory need against the budget,
// 422 before any work; admission.ts) -> degradation (503 while shedding; serving-mode.ts) ->
// breaker (503 while open; breaker-gate.ts) -> the bounded run queue (a slot now, or wait FIFO
// bounded in count and time, or 503; queue.ts) -> the predictor call, through the dynamic
// batcher when batching applies (batcher.ts), with the `predictor.run` child span, the
// in-flight gauge, the breaker's latency record, the observation matrix and the latency ring.
// Errors of the input (ShapeError, TypeError, RangeError: 400; MemoryLimitError: 422) never
// count toward the breaker; any other predictor failure does, and starts a background
// self-check.

import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { GroupBreakers } from '../breaker.js';
import { batchable, DynamicBatcher, type BatchingConfig } from '../batcher.js';
import type { SidecarConfig } from '../config.js';
import { describeCause, SidecarError } from '../errors.js';
import { type ObservationMatrix, seqLenBucket, seqLenBucketLabel } from '../matrix.js';
import type { SidecarMetrics } from '../metrics.js';
import { sequenceLength } from '../oip.js';
import type { PredictorLike, Tensor, TensorInfo } from '../predictor.js';
import type { SampleRing } from '../quantiles.js';
import { startChildSpan } from '../tracing.js';
import { Admission } from './admission.js';
import { admitBreaker } from './breaker-gate.js';
import { type Call, sinceMs } from './call.js';
import { type QueueLimits, RunQueue } from './queue.js';
import type { ServingModes } from './serving-mode.js';
import { INLINE_RUN_US_DEFAULT, RunPlacement } from './inline-runs.js';
import type { PhaseMarks } from './phases.js';
import { shapeKey } from './service-times.js';

/** Short runs (queue.ts) in flight per run slot when batching is off. */
export const SHORT_RUN_OVERLAP = 8;

/** The options of a child span nobody records (its attributes would be dropped unread). */
const CHILD_SPAN = { kind: SpanKind.INTERNAL };

/** The label of every sequence-length bucket of one edge list (index = bucket), built once per list. */
const SEQ_LEN_LABELS = new WeakMap<readonly number[], string[]>();
function seqLenLabels(edges: readonly number[]): string[] {
  let labels = SEQ_LEN_LABELS.get(edges);
  if (!labels) {
    labels = Array.from({ length: edges.length + 1 }, (_, l) => seqLenBucketLabel(l, edges));
    SEQ_LEN_LABELS.set(edges, labels);
  }
  return labels;
}

export interface PredictOptions {
  config: () => SidecarConfig;
  /** The model's own predictor (batchability is decided on its inputs). */
  predictor: PredictorLike;
  modes: ServingModes;
  breakers: GroupBreakers;
  /** Bytes one run may need (0: no memory admission). */
  budgetBytes: number;
  /** queue.maxInFlight when the config leaves it out. */
  defaultMaxInFlight: number;
  tracer: Tracer;
  metrics: SidecarMetrics;
  matrix: ObservationMatrix;
  latencies: SampleRing;
  counts: { total: number; errors: number };
  /** GPU memory this process holds (matrix), 0 when unknown. */
  gpuProcessMemory: () => number;
  /** After a predictor failure (a background self-check). */
  onFailure: () => void;
  /** The longest run executed on the main thread (inline-runs.ts; default INLINE_RUN_US_DEFAULT, 0: never). */
  inlineRunMicros?: number;
}

export class Predict {
  private readonly ioCache = new Map<PredictorLike, { inputs: TensorInfo[]; outputs: TensorInfo[] }>();
  private readonly admissions = new Map<PredictorLike, Admission>();
  private readonly batchers = new Map<PredictorLike, DynamicBatcher>();
  private readonly batchableModel: boolean;
  private batchingFor: { config: SidecarConfig; batching: BatchingConfig | undefined } | undefined;
  /** The bounded run queue (its limits follow the config: setConfig). */
  readonly queue: RunQueue;
  /** Where each run executes: the pool, or the main thread for short ones that are alone. */
  readonly placement: RunPlacement;
  /** Calls past the queue whose run has not returned (a run is alone when it is the only one). */
  private active = 0;
  /** `Call.answerReady` of every call whose answer is being encoded (one function, called as the call's method). */
  private readonly answerReady: (this: Call) => void;

  constructor(private readonly o: PredictOptions) {
    this.batchableModel = batchable(this.io(o.predictor).inputs);
    const queue = (this.queue = new RunQueue(this.queueLimits(o.config()), o.budgetBytes));
    this.placement = new RunPlacement(o.inlineRunMicros ?? INLINE_RUN_US_DEFAULT);
    this.answerReady = function (this: Call): void {
      if (this.answerReady === undefined) return;
      this.answerReady = undefined;
      queue.answered(this.answeringBytes ?? 0);
      this.answeringBytes = undefined;
    };
  }

  /** A `serviceAtAnswer` call's answer is out: its run's service time, run start to last byte. */
  answered(call: Call): void {
    if (call.service) this.queue.observe(call.service.key, sinceMs(call.service.started));
    call.service = undefined;
  }

  /** Applies a new config's queue limits (batching follows the config on the next call). */
  setConfig(c: SidecarConfig): void {
    this.queue.setLimits(this.queueLimits(c));
  }

  /** A loaded model's inputs and outputs do not change: read from the addon once per predictor. */
  io(p: PredictorLike): { inputs: TensorInfo[]; outputs: TensorInfo[] } {
    let c = this.ioCache.get(p);
    if (!c) {
      c = { inputs: p.inputs(), outputs: p.outputs() };
      this.ioCache.set(p, c);
    }
    return c;
  }

  /** Run slots: queue.maxInFlight, else the default (the predictor's CPU threads). */
  runSlots(c: SidecarConfig): number {
    return c.queue.maxInFlight ?? this.o.defaultMaxInFlight;
  }

  /** The batching settings when dynamic batching applies (on, and the model has a dynamic batch dimension); cached per config. */
  batching(c: SidecarConfig): BatchingConfig | undefined {
    if (this.batchingFor?.config === c) return this.batchingFor.batching;
    const batching = c.batching.enabled && this.batchableModel
      ? { maxBatchSize: c.batching.maxBatchSize, maxQueueDelayMicroseconds: c.batching.maxQueueDelayMicroseconds, preferredBatchSizes: c.batching.preferredBatchSizes, maxInflightBatches: this.runSlots(c) }
      : undefined;
    this.batchingFor = { config: c, batching };
    return batching;
  }

  /**
   * The queue's limits: with batching on, in-flight counts requests handed to the batcher
   * (maxBatchSize per run slot); without, short runs may overlap SHORT_RUN_OVERLAP per slot (queue.ts).
   */
  queueLimits(c: SidecarConfig): QueueLimits {
    const slots = this.runSlots(c);
    const batching = this.batching(c);
    const maxInFlight = slots * (batching ? c.batching.maxBatchSize : 1);
    return { maxInFlight, maxQueued: c.queue.maxQueued, maxQueueTimeMs: c.queue.maxQueueTimeMs, shortRunInFlight: batching ? maxInFlight : slots * SHORT_RUN_OVERLAP };
  }

  private admission(p: PredictorLike): Admission {
    let a = this.admissions.get(p);
    if (!a) {
      const est = p.estimateRunBytes;
      a = new Admission(this.o.budgetBytes, this.io(p).outputs, est ? (shapes) => est.call(p, shapes) : undefined);
      this.admissions.set(p, a);
    }
    return a;
  }

  private batcher(p: PredictorLike, b: BatchingConfig): DynamicBatcher {
    let x = this.batchers.get(p);
    if (!x) {
      // Merged batches stay on the pool; a batch of one request is placed as an unbatched run
      // (inline-runs.ts). Without the quiet-turn rule, lone inline runs left fewer requests to
      // merge (MLP at half of batching's capacity: 1.3 requests per run instead of 4.8, and the
      // main thread saturated in bursts).
      x = new DynamicBatcher((inputs, single) => (single === undefined ? p.run(inputs) : this.placement.run(p, inputs, single, this.alone())), b);
      this.batchers.set(p, x);
    } else x.setConfig(b);
    return x;
  }

  /** The only call past the queue (placement adds the quiet-turn rule, inline-runs.ts). */
  private alone(): boolean {
    return this.active === 1;
  }

  async run(call: Call, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const o = this.o;
    const { predictor, device } = o.modes.active();
    // One key of the input shapes for admission's cache and the queue's service times.
    const key = shapeKey(inputs);
    this.placement.arrive();
    const bytes = this.admission(predictor).admit(inputs, key);
    o.modes.refuseWhenShedding();
    const breaker = admitBreaker(o.breakers, call.group);
    // The bounded queue: a slot now, or wait (bounded in count and by the answer's deadline), or 503.
    const phases: PhaseMarks = (call.phases = { queued: sinceMs(call.started) });
    if (!this.queue.tryEnter(bytes, key)) await this.queue.enter(bytes, phases.queued, key, call);
    if (call.clientClosed) {
      // The caller hung up before its run started (before it took a slot; a waiter whose caller
      // hangs up leaves the queue by its abandonWait): its answer has nowhere to go, so the slot
      // goes to the next waiter unused.
      this.queue.leave(bytes);
      throw new SidecarError('client_closed', 'the client went away before its run started: not run');
    }
    phases.started = sinceMs(call.started);
    const config = o.config();
    const seqLen = sequenceLength(inputs);
    const edges = config.matrix.seqLenEdges;
    const child = startChildSpan(
      o.tracer,
      'predictor.run',
      call.span.isRecording() ? { kind: SpanKind.INTERNAL, attributes: { 'model.name': config.model.name, 'paddle.device': device, 'paddle.seq_len': seqLen } } : CHILD_SPAN,
      call.parent,
      call.span,
    );
    o.metrics.inflight.inc();
    this.active++;
    const started = process.hrtime.bigint();
    call.inference = { device, seqLenBucket: seqLenLabels(edges)[seqLenBucket(seqLen, edges)] ?? 'all' };
    let ok = false;
    try {
      const batching = this.batching(config);
      let out: Record<string, Tensor>;
      if (batching) {
        const r = await this.batcher(predictor, batching).submit(inputs, key);
        out = r.outputs;
        phases.batched = Number(r.launched - call.started) / 1e6;
        call.batch = { requests: r.batchRequests, rows: r.batchRows };
        if (child.isRecording()) child.setAttributes({ 'paddle.batch.rows': r.batchRows, 'paddle.batch.requests': r.batchRequests });
      } else out = await this.placement.run(predictor, inputs, key, this.alone());
      const ms = sinceMs(started);
      phases.ran = sinceMs(call.started);
      // The queue's service time for this shape: to the answer's last byte where the front end reports it.
      if (call.serviceAtAnswer) call.service = { key, started };
      else this.queue.observe(key, ms);
      ok = true;
      breaker.record(ms, true);
      o.latencies.push(ms);
      o.matrix.add(o.gpuProcessMemory(), ms, seqLen);
      return out;
    } catch (err) {
      const ms = sinceMs(started);
      const name = err instanceof Error ? err.name : '';
      const message = err instanceof Error ? err.message : String(err);
      if (name === 'ShapeError' || name === 'TypeError' || name === 'RangeError') {
        throw new SidecarError('bad_request', `input rejected by the model: ${message}`, { cause: err });
      }
      if (name === 'MemoryLimitError') {
        throw new SidecarError('over_budget', `this request needs more memory than the predictor may use: ${message}`, { cause: err });
      }
      breaker.record(ms, false);
      o.counts.errors++;
      o.metrics.failures.labels(config.model.name, 'predictor').inc();
      child.recordException(err as Error);
      child.setStatus({ code: SpanStatusCode.ERROR, message: describeCause(err) });
      o.onFailure();
      throw new SidecarError('inference_failed', 'inference failed', { cause: err });
    } finally {
      // An answer still to encode keeps counting in the queue until its bytes are ready.
      if (ok && call.serviceAtAnswer && !call.clientClosed) {
        this.queue.finishRun();
        call.answeringBytes = bytes;
        call.answerReady = this.answerReady;
      } else this.queue.leave(bytes);
      o.metrics.inflight.dec();
      this.active--;
      o.counts.total++;
      child.end();
    }
  }
}
