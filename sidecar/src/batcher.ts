// Dynamic batching (spec.batching): concurrent requests for a model whose inputs all have a
// dynamic first (batch) dimension are merged along that dimension into one predictor run, and
// the outputs are split back by rows, so each caller gets exactly its own rows.
//
// A request joins the queue of requests with the same non-batch shapes (inputs of different
// sequence lengths are never padded together). A queue runs as one batch when
//   - its rows reach maxBatchSize, or one of preferredBatchSizes (the largest reached), or
//   - its first request has waited maxQueueDelayMicroseconds, or, with 0 (no timer): at once
//     when a run slot is free and the last two batches served one request each (requests come
//     one at a time: a lone request waits for nothing; one lone batch after a full one is the
//     tail of a wave, not a lull), else at the end of the event-loop turn
//     the first request arrived in: the requests whose bodies the same turn read leave together
//     (under load this keeps the first arrival of a wave from leaving alone with the rest
//     waiting behind its run: at 32 connections 36-40 % of runs served one request when every
//     request found at a free slot left at once, 3-6 % with the end-of-turn close),
// and, like one Triton model instance, at most `maxInflightBatches` batches run at once: while
// they do, requests keep queueing and the next batch leaves as soon as one finishes (under load
// batches fill without waiting for the delay). A request with maxBatchSize rows or more runs
// alone. When a merged run fails, each of its requests is run again alone (one after the other,
// in the same run slot), so one caller's bad input answers only that caller (and only its run
// counts toward the breaker).
//
// Each result carries when its run started (`launched`): the predictor stage marks it as the
// `batch` phase of the access line (the wait in the batcher), so the time the batcher adds is
// measured per request (bench/sidecar/batching.ts).
//
// Everything per caller (span, breaker admission, matrix cell, metrics, audit, access line) stays
// in the request chain around `submit`; the batcher only shares the predictor run.

import type { Tensor, TensorInfo, TypedData } from './predictor.js';

export interface BatchingConfig {
  maxBatchSize: number;
  maxQueueDelayMicroseconds: number;
  preferredBatchSizes: number[];
  /** Batches running at once (default 1). */
  maxInflightBatches?: number;
}

/** Runs a batch; `single`: the run serves one request, whose shape key (submit's) it is. */
export type RunFn = (inputs: Record<string, Tensor>, single?: string) => Promise<Record<string, Tensor>>;

interface Entry {
  inputs: Record<string, Tensor>;
  rows: number;
  /** submit's shape key, when given. */
  key: string | undefined;
  resolve: (out: BatchResult) => void;
  reject: (err: unknown) => void;
}

interface Queue {
  key: string;
  /** Replaced, not shifted, when a batch takes all of it. */
  entries: Entry[];
  rows: number;
  /** Makes the queue due after maxQueueDelayMicroseconds (> 0) from its first request. */
  timer?: NodeJS.Timeout;
  /** maxQueueDelayMicroseconds 0: makes the queue due at the end of the event-loop turn its first request arrived in. */
  turn?: NodeJS.Immediate;
  /** The delay has passed: leave as soon as a run slot is free. */
  due: boolean;
}

export interface BatchResult {
  outputs: Record<string, Tensor>;
  /** Rows of the run this request was part of (its own rows when it ran alone). */
  batchRows: number;
  /** Requests in that run. */
  batchRequests: number;
  /** process.hrtime.bigint() when that run started (the request's wait in the batcher ended). */
  launched: bigint;
}

/** True when every input's first dimension is dynamic (-1): the model can be batched along it. */
export function batchable(inputs: TensorInfo[]): boolean {
  return inputs.length > 0 && inputs.every((i) => i.shape.length >= 1 && i.shape[0] === -1);
}

function newData(sample: TypedData, length: number): TypedData {
  if (sample instanceof Float32Array) return new Float32Array(length);
  if (sample instanceof Int32Array) return new Int32Array(length);
  return new BigInt64Array(length);
}

/** Concatenates the entries' inputs along dimension 0. */
export function mergeInputs(entries: readonly { inputs: Record<string, Tensor>; rows: number }[]): Record<string, Tensor> {
  const first = entries[0]?.inputs ?? {};
  const rows = entries.reduce((a, e) => a + e.rows, 0);
  const merged: Record<string, Tensor> = {};
  for (const name in first) {
    const t = first[name] as Tensor;
    const shape = [rows, ...t.shape.slice(1)];
    const total = entries.reduce((a, e) => a + (e.inputs[name] as Tensor).data.length, 0);
    const data = newData(t.data, total);
    let at = 0;
    for (const e of entries) {
      const d = (e.inputs[name] as Tensor).data;
      (data as Float32Array).set(d as Float32Array, at);
      at += d.length;
    }
    merged[name] = { dtype: t.dtype, shape, data };
  }
  return merged;
}

/** Splits a merged run's outputs back into each entry's rows (views, no copy). */
export function splitOutputs(outputs: Record<string, Tensor>, rowsPerEntry: readonly number[]): Record<string, Tensor>[] {
  const total = rowsPerEntry.reduce((a, b) => a + b, 0);
  const parts: Record<string, Tensor>[] = rowsPerEntry.map(() => ({}));
  for (const name in outputs) {
    const t = outputs[name] as Tensor;
    if (t.shape[0] !== total) throw new Error(`output ${name} has ${t.shape[0] ?? 'no'} rows for a batch of ${total}: the model does not keep the batch dimension`);
    const per = total === 0 ? 0 : t.data.length / total;
    let row = 0;
    rowsPerEntry.forEach((rows, i) => {
      (parts[i] as Record<string, Tensor>)[name] = { dtype: t.dtype, shape: [rows, ...t.shape.slice(1)], data: t.data.subarray(row * per, (row + rows) * per) as TypedData };
      row += rows;
    });
  }
  return parts;
}

interface BatchKey {
  key: string;
  rows: number;
}

/** True when the inputs' dtypes, in order, are `dtypes`. */
function sameDtypes(inputs: Record<string, Tensor>, dtypes: readonly string[]): boolean {
  let i = 0;
  for (const name in inputs) if ((inputs[name] as Tensor).dtype !== dtypes[i++]) return false;
  return i === dtypes.length;
}

/** The queue key: each input's name, dtype and non-batch dims; undefined when the request cannot join a batch. */
function batchKey(inputs: Record<string, Tensor>): BatchKey | undefined {
  let rows = -1;
  let key = '';
  for (const name in inputs) {
    const t = inputs[name] as Tensor;
    const r = t.shape[0];
    if (r === undefined || (rows >= 0 && r !== rows)) return undefined;
    rows = r;
    key += `${name}:${t.dtype}:${t.shape.slice(1).join('x')};`;
  }
  return rows > 0 ? { key, rows } : undefined;
}

export class DynamicBatcher {
  readonly #run: RunFn;
  #cfg: BatchingConfig;
  readonly #queues = new Map<string, Queue>();
  #inflight = 0;
  /** Requests in the last two batches launched: both 1 while requests come one at a time. */
  #lastLaunched = 1;
  #beforeLast = 1;
  /** Counters: predictor runs made, requests served through them, merged runs. */
  readonly stats = { runs: 0, requests: 0, mergedRuns: 0, rows: 0 };
  /** Runs by the number of requests they served (index: requests; [1]: runs alone). */
  readonly sizes: number[] = [];
  /** The last shape key given to submit and its queue key (requests of one shape repeat). */
  #lastShape: string | undefined;
  #lastKey: BatchKey | undefined;
  /** The dtypes of those inputs, in their order (a shape key names shapes, not dtypes). */
  #lastDtypes: string[] = [];

  constructor(run: RunFn, cfg: BatchingConfig) {
    this.#run = run;
    this.#cfg = cfg;
  }

  setConfig(cfg: BatchingConfig): void {
    this.#cfg = cfg;
  }

  /**
   * Queues `inputs` for a batch (or runs them alone when they cannot join one). `shapeKey`, when
   * given, is the inputs' names and shapes as one string (service-times.ts shapeKey): while it
   * and the dtypes repeat, the queue key is reused instead of rebuilt per request.
   */
  submit(inputs: Record<string, Tensor>, shapeKey?: string): Promise<BatchResult> {
    let k: BatchKey | undefined;
    if (shapeKey !== undefined && shapeKey === this.#lastShape && sameDtypes(inputs, this.#lastDtypes)) k = this.#lastKey;
    else {
      k = batchKey(inputs);
      if (shapeKey !== undefined) {
        this.#lastShape = shapeKey;
        this.#lastKey = k;
        this.#lastDtypes = Object.values(inputs).map((t) => t.dtype);
      }
    }
    if (!k || k.rows >= this.#cfg.maxBatchSize) return this.#alone(inputs, k?.rows ?? 0, shapeKey);
    const key = k;
    return new Promise<BatchResult>((resolve, reject) => this.#enqueue({ inputs, rows: key.rows, key: shapeKey, resolve, reject }, key.key));
  }

  #enqueue(e: Entry, key: string): void {
    let q = this.#queues.get(key);
    if (!q) {
      q = { key, entries: [], rows: 0, due: false };
      this.#queues.set(key, q);
    }
    q.entries.push(e);
    q.rows += e.rows;
    if (!q.due && !q.timer && !q.turn) {
      if (this.#cfg.maxQueueDelayMicroseconds > 0) q.timer = setTimeout(this.#fire, this.#cfg.maxQueueDelayMicroseconds / 1000, q);
      // No delay, requests coming one at a time and a run slot free: it leaves at once.
      else if (this.#lastLaunched <= 1 && this.#beforeLast <= 1 && this.#inflight < (this.#cfg.maxInflightBatches ?? 1)) q.due = true;
      // No delay otherwise: the batch closes once the requests that arrived in this turn of
      // the event loop have joined (the rest of its I/O callbacks, no timer).
      else q.turn = setImmediate(this.#fire, q);
    }
    this.#pump();
  }

  /** A queue's delay (or its turn) is over: it leaves as soon as a run slot is free. One function for every queue. */
  readonly #fire = (q: Queue): void => {
    q.timer = undefined;
    q.turn = undefined;
    q.due = true;
    this.#pump();
  };

  /** Starts every batch that is ready while run slots are free. */
  #pump(): void {
    const slots = this.#cfg.maxInflightBatches ?? 1;
    for (const q of this.#queues.values()) {
      while (this.#inflight < slots && q.entries.length > 0 && (q.due || q.rows >= this.#cfg.maxBatchSize || this.#preferredReached(q.rows))) {
        this.#launch(q);
      }
      if (this.#inflight >= slots) return;
    }
  }

  #preferredReached(rows: number): boolean {
    const p = this.#cfg.preferredBatchSizes;
    return p.length > 0 && p.includes(rows) && rows >= Math.max(...p.filter((s) => s <= this.#cfg.maxBatchSize));
  }

  /** Takes up to maxBatchSize rows off the queue and runs them as one batch. */
  #launch(q: Queue): void {
    let n = 0;
    let rows = 0;
    for (const e of q.entries) {
      if (n > 0 && rows + e.rows > this.#cfg.maxBatchSize) break;
      n++;
      rows += e.rows;
    }
    const taken = n === q.entries.length ? q.entries : q.entries.splice(0, n);
    if (taken === q.entries) q.entries = [];
    q.rows -= rows;
    if (q.entries.length === 0) {
      if (q.timer) clearTimeout(q.timer);
      if (q.turn) clearImmediate(q.turn);
      this.#queues.delete(q.key);
    } else if (!q.timer) {
      // The rest waits a fresh delay at most (it is already queued behind a full batch).
      q.due = true;
    }
    this.#inflight++;
    this.#beforeLast = this.#lastLaunched;
    this.#lastLaunched = taken.length;
    void this.#execute(taken, rows);
  }

  /** Runs one batch and answers its entries; then frees its run slot and starts what is ready. */
  async #execute(entries: Entry[], rows: number): Promise<void> {
    try {
      await this.#runBatch(entries, rows);
    } finally {
      this.#inflight--;
      this.#pump();
    }
  }

  async #runBatch(entries: Entry[], rows: number): Promise<void> {
    if (entries.length === 1) {
      const e = entries[0] as Entry;
      await this.#alone(e.inputs, e.rows, e.key).then(e.resolve, e.reject);
      return;
    }
    const launched = process.hrtime.bigint();
    this.#count(entries.length, rows);
    this.stats.mergedRuns++;
    let outputs: Record<string, Tensor>;
    try {
      outputs = await this.#run(mergeInputs(entries));
    } catch {
      // One caller's input can fail a merged run: run each alone, one after the other in this
      // run slot, so each gets its own outcome.
      for (const e of entries) await this.#alone(e.inputs, e.rows).then(e.resolve, e.reject);
      return;
    }
    let parts: Record<string, Tensor>[];
    try {
      parts = splitOutputs(outputs, entries.map((e) => e.rows));
    } catch (err) {
      for (const e of entries) e.reject(err);
      return;
    }
    const batchRequests = entries.length;
    for (let i = 0; i < batchRequests; i++) (entries[i] as Entry).resolve({ outputs: parts[i] as Record<string, Tensor>, batchRows: rows, batchRequests, launched });
  }

  async #alone(inputs: Record<string, Tensor>, rows: number, key?: string): Promise<BatchResult> {
    const launched = process.hrtime.bigint();
    this.#count(1, rows);
    return { outputs: await this.#run(inputs, key), batchRows: rows, batchRequests: 1, launched };
  }

  #count(requests: number, rows: number): void {
    this.stats.runs++;
    this.stats.requests += requests;
    this.stats.rows += rows;
    this.sizes[requests] = (this.sizes[requests] ?? 0) + 1;
  }
}
