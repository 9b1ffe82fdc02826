// Response encoding off the main thread: an inference answer with many output elements (a
// transformer's hidden states: megabytes of JSON) is built by a small pool of worker threads, so
// the event loop keeps answering probes, metrics and small requests while it is encoded. Small
// answers (below `inlineElements`) are encoded inline, where a thread hop would cost more than
// the work. Either way the bytes and the checks are buildInferResponse's (oip.ts): NaN or
// Infinity in an output is refused (422 non_finite_output), never written as null.

import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SidecarError, type ErrorCode } from '../errors.js';
import { buildInferResponse } from '../oip.js';
import type { Tensor } from '../predictor.js';

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
}

interface Pending {
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
}

const EXT = extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./encode-worker${EXT}`, import.meta.url);

/** The worker: the compiled module as it is; from the TypeScript sources, through tsx's loader first. */
function startWorker(): Worker {
  if (EXT !== '.ts') return new Worker(WORKER_URL);
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(boot, { eval: true });
}

export class ResponseEncoder {
  private readonly inlineElements: number;
  private readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private closed = false;

  constructor(o: EncoderOptions = {}) {
    this.inlineElements = o.inlineElements ?? 16384;
    this.size = o.workers ?? Math.min(2, Math.max(1, availableParallelism() - 1));
  }

  /** The response body of one inference: inline when small, else on a worker. */
  encode(modelName: string, modelVersion: string, id: string | undefined, outputs: Record<string, Tensor>, selected: string[] | undefined): string | Promise<Buffer> {
    let elements = 0;
    for (const name of selected ?? Object.keys(outputs)) elements += outputs[name]?.data.length ?? 0;
    if (elements < this.inlineElements || this.closed) return JSON.stringify(buildInferResponse(modelName, modelVersion, id, outputs, selected));
    return this.onWorker({ seq: ++this.seq, modelName, modelVersion, id, outputs, selected });
  }

  private onWorker(job: EncodeJob): Promise<Buffer> {
    const i = this.pick();
    const w = this.workers[i] as Worker;
    this.load[i] = (this.load[i] ?? 0) + 1;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(job.seq, {
        resolve: (b) => {
          this.load[i] = (this.load[i] ?? 1) - 1;
          resolve(b);
        },
        reject: (e) => {
          this.load[i] = (this.load[i] ?? 1) - 1;
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
    const w = startWorker();
    w.unref();
    w.on('message', (r: EncodeReply) => {
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

  private failAll(err: Error): void {
    for (const [seq, p] of this.pending) {
      this.pending.delete(seq);
      p.reject(new SidecarError('internal', 'response encoding failed', { cause: err }));
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
