// The health port (plain HTTP, the kubelet's probes): GET /v2/health/live and /v2/health/ready
// only, served by a worker thread (health-worker.ts) so that a probe is answered promptly
// whatever the main thread is doing. The main thread publishes a heartbeat every `beatMs` in
// shared memory (liveness fails once it is older than `staleAfterMs`: a wedged event loop still
// gets the pod restarted) and the readiness answer (the same status and body as the serving
// port's /v2/health/ready) whenever it changes, checked on the same beat.

import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { IDLE_TIMEOUT_S_DEFAULT } from './connections.js';
import type { HealthMessage, HealthWorkerData } from './health-worker.js';
import { startModuleWorker } from './pipeline/module-worker.js';

export interface HealthPortOptions {
  /** The readiness answer now (status and JSON body), as the serving port gives it. */
  readiness: () => { status: number; body: unknown };
  beatMs?: number;
  staleAfterMs?: number;
  /** Idle timeout of a probe connection (ms; default connections.ts's). */
  idleTimeoutMs?: number;
}

export class HealthPort {
  private readonly heartbeat = new SharedArrayBuffer(8);
  private readonly beat = new Float64Array(this.heartbeat);
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastReady = '';

  constructor(private readonly o: HealthPortOptions) {}

  /** Starts the worker listening on host:port; resolves the bound port. */
  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const staleAfterMs = this.o.staleAfterMs ?? 10_000;
    const workerData: HealthWorkerData = { heartbeat: this.heartbeat, staleAfterMs, host, port, idleTimeoutMs: this.o.idleTimeoutMs ?? IDLE_TIMEOUT_S_DEFAULT * 1000 };
    this.tick();
    const w = startModuleWorker(import.meta.url, 'health-worker', { workerData });
    this.worker = w;
    this.publish();
    const [msg] = (await once(w, 'message')) as [{ type: string; port?: number; message?: string }];
    if (msg.type !== 'listening' || msg.port === undefined) throw new Error(`health port ${port}: ${msg.message ?? 'did not start'}`);
    this.tick();
    this.timer = setInterval(() => this.tick(), this.o.beatMs ?? 100);
    this.timer.unref();
    w.unref();
    return msg.port;
  }

  private tick(): void {
    this.beat[0] = Date.now();
    this.publish();
  }

  private publish(): void {
    if (!this.worker) return;
    const r = this.o.readiness();
    const body = JSON.stringify(r.body);
    const key = `${r.status}${body}`;
    if (key === this.lastReady) return;
    this.lastReady = key;
    const m: HealthMessage = { type: 'ready', status: r.status, body };
    this.worker.postMessage(m);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    const exited = once(w, 'exit');
    const m: HealthMessage = { type: 'close' };
    w.postMessage(m);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
    await w.terminate();
  }
}
