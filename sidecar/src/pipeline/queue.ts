// The bounded queue in front of the predictor (in the spirit of Triton's queue policy): at most
// `maxInFlight` runs at once, at most `maxQueued` requests waiting, none waiting longer than
// `maxQueueTimeMs`; with a memory budget, runs in flight also hold their admitted bytes and a
// waiting run starts only when its bytes fit beside them (so concurrent runs cannot push each
// other over maxMemoryMB). Beyond the bounds a request is refused at once with 503 and
// Retry-After (code `overloaded`), or at its deadline (code `queue_timeout`): the server is
// busy, the caller did nothing wrong, and nothing here counts toward the breaker.
//
// Waiting is FIFO: a run that does not fit yet blocks the ones behind it (no starvation of big
// runs). The free path is synchronous (`tryEnter`), so an idle server pays one comparison.

import { SidecarError } from '../errors.js';

export interface QueueLimits {
  maxInFlight: number;
  maxQueued: number;
  maxQueueTimeMs: number;
}

export interface QueueStats {
  inFlight: number;
  queued: number;
  reservedBytes: number;
  /** Refusals since start: the queue was full / a request waited past maxQueueTimeMs. */
  rejectedFull: number;
  rejectedTimeout: number;
}

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (err: SidecarError) => void;
  timer: NodeJS.Timeout;
  done: boolean;
}

export class RunQueue {
  private limits: QueueLimits;
  private inFlight = 0;
  private reserved = 0;
  private readonly waiting: Waiter[] = [];
  private head = 0;
  /** Waiters not yet started or timed out (the array also holds finished ones until compacted). */
  private pending = 0;
  private rejectedFull = 0;
  private rejectedTimeout = 0;

  /** `budgetBytes`: what runs in flight may hold together (0: no memory bound). */
  constructor(limits: QueueLimits, private readonly budgetBytes = 0) {
    this.limits = { ...limits };
  }

  setLimits(limits: QueueLimits): void {
    this.limits = { ...limits };
    this.drain();
  }

  /** Retry-After for a refusal: the queue's time bound, at least a second. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.limits.maxQueueTimeMs / 1000));
  }

  private fits(bytes: number): boolean {
    if (this.inFlight >= this.limits.maxInFlight) return false;
    // An idle predictor takes any admitted run (admission already refused what can never fit).
    return this.budgetBytes <= 0 || this.inFlight === 0 || this.reserved + bytes <= this.budgetBytes;
  }

  private queued(): number {
    return this.pending;
  }

  /** Takes a slot now when one is free and nobody waits; the caller must `leave(bytes)` after. */
  tryEnter(bytes = 0): boolean {
    if (this.queued() > 0 || !this.fits(bytes)) return false;
    this.inFlight++;
    this.reserved += bytes;
    return true;
  }

  /** Throws the `overloaded` refusal when a request arriving now could neither run nor wait. */
  refuseWhenFull(): void {
    if (this.pending >= this.limits.maxQueued && !(this.pending === 0 && this.fits(0))) throw this.full();
  }

  private full(): SidecarError {
    this.rejectedFull++;
    return new SidecarError('overloaded', `server busy: ${this.inFlight} runs in flight and ${this.pending} waiting (queue.maxQueued ${this.limits.maxQueued})`, {
      retryAfterSeconds: this.retryAfterSeconds(),
    });
  }

  /**
   * Waits for a slot (FIFO). Rejects at once with `overloaded` when maxQueued are already
   * waiting, or with `queue_timeout` once maxQueueTimeMs have passed since the request arrived
   * (`elapsedMs` ago); the caller must `leave(bytes)` after a resolved wait.
   */
  enter(bytes = 0, elapsedMs = 0): Promise<void> {
    if (this.tryEnter(bytes)) return Promise.resolve();
    if (this.queued() >= this.limits.maxQueued) return Promise.reject(this.full());
    const waitMs = this.limits.maxQueueTimeMs;
    // The bound counts from the request's arrival: time already spent reading and parsing it
    // (a busy main thread) is taken off the wait.
    const leftMs = waitMs - elapsedMs;
    if (leftMs <= 0) {
      this.rejectedTimeout++;
      return Promise.reject(new SidecarError('queue_timeout', `server busy: no run slot within queue.maxQueueTimeMs (${waitMs} ms)`, { retryAfterSeconds: this.retryAfterSeconds() }));
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        bytes,
        resolve,
        reject,
        done: false,
        timer: setTimeout(() => {
          if (w.done) return;
          w.done = true;
          this.pending--;
          this.rejectedTimeout++;
          reject(new SidecarError('queue_timeout', `server busy: no run slot within queue.maxQueueTimeMs (${waitMs} ms)`, { retryAfterSeconds: this.retryAfterSeconds() }));
          this.compact();
          this.drain();
        }, leftMs),
      };
      w.timer.unref?.();
      this.waiting.push(w);
      this.pending++;
    });
  }

  /** Gives a slot back (and the bytes it held); starts the waiters that now fit. */
  leave(bytes = 0): void {
    this.inFlight--;
    this.reserved -= bytes;
    this.drain();
  }

  private drain(): void {
    while (this.head < this.waiting.length) {
      const w = this.waiting[this.head] as Waiter;
      if (w.done) {
        this.head++;
        continue;
      }
      if (!this.fits(w.bytes)) break;
      this.head++;
      w.done = true;
      this.pending--;
      clearTimeout(w.timer);
      this.inFlight++;
      this.reserved += w.bytes;
      w.resolve();
    }
    this.compact();
  }

  /** Drops finished waiters from the front once they are many (keeps the array short). */
  private compact(): void {
    while (this.head < this.waiting.length && (this.waiting[this.head] as Waiter).done) this.head++;
    if (this.head > 64 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    } else if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    }
  }

  stats(): QueueStats {
    return { inFlight: this.inFlight, queued: this.pending, reservedBytes: this.reserved, rejectedFull: this.rejectedFull, rejectedTimeout: this.rejectedTimeout };
  }
}
