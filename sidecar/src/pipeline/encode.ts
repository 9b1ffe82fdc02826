// Response encoding off the main thread: an inference answer with many output elements (a
// transformer's hidden states: megabytes of JSON) is built by a small pool of worker threads, so
// the event loop keeps answering probes, metrics and small requests while it is encoded. Small
// answers (below `inlineElements`) are encoded inline, where a thread hop would cost more than
// the work. Either way the bytes and the checks are buildInferResponse's (oip.ts): NaN or
// Infinity in an output is refused (422 non_finite_output), never written as null.

import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { SidecarError, type ErrorCode } from '../errors.js';
import { buildInferResponse } from '../oip.js';
import type { Tensor } from '../predictor.js';
import { startModuleWorker } from './module-worker.js';
import { releaseMemorySoon } from './release.js';

export interface EncodeJob {
  seq: number;
  modelName: string;
  modelVersion: string;
  id: string | undefined;
  outputs: Record<string, Tensor>;
  selected: string[] | undefined;
}

export type EncodeReply = { seq: number; ok: true; body: Uint8Array } | { seq: number; ok: false; code: string; message: string };

export interface EncoderOptions {
  /** Answers with fewer output elements than this are encoded on the main thread (default 16384). */
  inlineElements?: number;
  /** Worker threads (default: one per core beyond the first, at least 1, at most 2). */
  workers?: number;
  /**
   * Once no answer was encoded on a worker for this long (default 2000 ms), each idle worker runs
   * one full collection of its heap, and so does the main thread: after a flood the process
   * returns to its quiet size instead of keeping the flood's heaps. (Workers stay: starting one
   * again would cost the next large answer the worker's start.)
   */
  idleReleaseMs?: number;
}

interface Pending {
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
}

export class ResponseEncoder {
  private readonly inlineElements: number;
  /** Answers of this many elements or more (about 16 MiB of JSON) retire their worker afterwards. */
  private readonly retireElements = 1 << 20;
  private readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private closed = false;
  private readonly idle: NodeJS.Timeout;

  constructor(o: EncoderOptions = {}) {
    this.inlineElements = o.inlineElements ?? 16384;
    this.size = o.workers ?? Math.min(2, Math.max(1, availableParallelism() - 1));
    this.idle = setTimeout(() => this.releaseIdle(), o.idleReleaseMs ?? 2000);
    this.idle.unref();
  }

  /** Worker threads alive now. */
  get workerCount(): number {
    return this.workers.length;
  }

  /** Full collections the workers ran because the pool was idle. */
  idleCollections = 0;

  private releaseIdle(): void {
    let asked = 0;
    for (let i = 0; i < this.workers.length; i++) {
      if ((this.load[i] ?? 0) > 0) continue;
      this.workers[i]?.postMessage({ collect: true });
      asked++;
    }
    if (asked > 0) releaseMemorySoon(0);
  }

  /** The response body of one inference: inline when small, else on a worker. */
  encode(modelName: string, modelVersion: string, id: string | undefined, outputs: Record<string, Tensor>, selected: string[] | undefined): string | Promise<Buffer> {
    let elements = 0;
    for (const name of selected ?? Object.keys(outputs)) elements += outputs[name]?.data.length ?? 0;
    if (elements < this.inlineElements || this.closed) return JSON.stringify(buildInferResponse(modelName, modelVersion, id, outputs, selected));
    return this.onWorker({ seq: ++this.seq, modelName, modelVersion, id, outputs, selected }, elements);
  }

  private onWorker(job: EncodeJob, elements: number): Promise<Buffer> {
    const w = this.workers[this.pick()] as Worker;
    const slot = (): number => this.workers.indexOf(w);
    this.load[slot()] = (this.load[slot()] ?? 0) + 1;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(job.seq, {
        resolve: (b) => {
          const i = slot();
          this.load[i] = (this.load[i] ?? 1) - 1;
          this.idle.refresh();
          // A huge answer leaves the worker's heap at its peak: retire that worker (its whole
          // heap goes back) once it is idle; the next large answer starts a fresh one.
          if (elements >= this.retireElements && this.load[i] === 0) this.retire(w);
          resolve(b);
        },
        reject: (e) => {
          const i = slot();
          this.load[i] = (this.load[i] ?? 1) - 1;
          this.idle.refresh();
          reject(e);
        },
      });
      w.postMessage(job);
    });
  }

  /** The least loaded worker, starting one when the pool is not full yet. */
  private pick(): number {
    let best = -1;
    for (let i = 0; i < this.workers.length; i++) if (best < 0 || (this.load[i] ?? 0) < (this.load[best] ?? 0)) best = i;
    if (best >= 0 && ((this.load[best] ?? 0) === 0 || this.workers.length >= this.size)) return best;
    const w = startModuleWorker(import.meta.url, 'encode-worker');
    w.unref();
    w.on('message', (r: EncodeReply | { collected: true }) => {
      if ('collected' in r) {
        this.idleCollections++;
        return;
      }
      const p = this.pending.get(r.seq);
      if (!p) return;
      this.pending.delete(r.seq);
      if (r.ok) p.resolve(Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength));
      else p.reject(new SidecarError(r.code as ErrorCode, r.message));
    });
    w.on('error', (err) => this.failAll(err));
    this.workers.push(w);
    this.load.push(0);
    return this.workers.length - 1;
  }

  private retire(w: Worker): void {
    const i = this.workers.indexOf(w);
    if (i < 0) return;
    this.workers.splice(i, 1);
    this.load.splice(i, 1);
    void w.terminate();
  }

  private failAll(err: Error): void {
    for (const [seq, p] of this.pending) {
      this.pending.delete(seq);
      p.reject(new SidecarError('internal', 'response encoding failed', { cause: err }));
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.idle);
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
