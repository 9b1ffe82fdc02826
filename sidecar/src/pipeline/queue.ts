// The bounded queue in front of the predictor (in the spirit of Triton's queue policy): at most
// `maxInFlight` runs at once, at most `maxQueued` requests waiting; with a memory budget, runs in
// flight also hold their admitted bytes and a waiting run starts only when its bytes fit beside
// them (so concurrent runs cannot push each other over maxMemoryMB).
//
// Answers being encoded count too: a run that ended with an answer still to encode frees its run
// slot (`finishRun`) but stays counted, with its bytes, until `answered`; a run starts only while
// at most `maxInFlight` answers are being encoded. So the next run overlaps the last answer's
// encoding, but encoding (slower than the run for big JSON answers) cannot build a queue of its
// own behind the run queue's back: everything after the queue is bounded by it.
//
// The time bound is a deadline on the answer, not only on the wait. A request that must wait
// gets the latest moment its run may start:
//
//   latest start = arrival + maxQueueTimeMs + oneRun(shape) - slow(shape)
//
// (service-times.ts: `slow` is the slowest of the shape's recent service times, run + encode +
// write, i.e. what a run starting now is expected to take; `oneRun` the fastest in the last ten
// minutes). It is refused (503 queue_timeout, Retry-After) at that moment if it has not started,
// or at once when that moment has already passed, without running. So a served request that
// waited answers within maxQueueTimeMs + one run of its arrival unless its own run was slower
// than each of the last 32 of its shape (and then by no more than that excess). With no service
// times yet, the bound is the plain wait: maxQueueTimeMs from arrival.
//
// Order: FIFO while the queue keeps up; when it is congested (the oldest waiter has waited half
// of maxQueueTimeMs) the newest waiter goes first (adaptive LIFO): under sustained overload the
// runs go to requests that can still be answered early, and the oldest, which would be answered
// late if at all, are refused at their deadline. A run that does not fit the memory budget yet
// blocks the others (big runs are not starved by small ones).
//
// Short runs: a run whose input shape has been served in under SHORT_RUN_MS (its fastest service
// time, run + encode + write, in the last ten minutes: service-times.ts) may start while up to
// `shortRunInFlight` runs are in flight (the predict stage sets maxInFlight x 8 without batching).
// For such runs the hand-off to the predictor's thread and back costs more CPU than the run: one
// run at a time wakes the predictor's thread and then the event loop once per run (about 70 us
// of CPU per run here, against about 25 us with several runs handed over together), and sharing
// a core lengthens each by well under a millisecond. Shapes not yet served, and slower ones,
// keep maxInFlight, so the bound above is what protects the pod's CPU from real work.
//
// A waiter whose client went away leaves the queue at once (the call's close calls the
// `abandonWait` its holder got from `enter`): 499 `client_closed`, never run, and its place goes
// to the next caller instead of counting toward maxQueued until its turn or its deadline.
//
// Beyond the bounds a request is refused at once with 503 and Retry-After (code `overloaded`):
// the server is busy, the caller did nothing wrong, and nothing here counts toward the breaker.
// The free path is synchronous (`tryEnter`), so an idle server pays one comparison.

import { SidecarError } from '../errors.js';
import { ServiceTimes } from './service-times.js';

export interface QueueLimits {
  maxInFlight: number;
  maxQueued: number;
  maxQueueTimeMs: number;
  /**
   * Runs in flight at once when the run is short (its shape's fastest service time under
   * SHORT_RUN_MS); default maxInFlight. See "Short runs" above.
   */
  shortRunInFlight?: number;
}

/** A shape whose fastest service time (run start to last byte) is below this is a short run. */
export const SHORT_RUN_MS = 1;

export interface QueueStats {
  inFlight: number;
  /** Answers being encoded (their runs ended). */
  answering: number;
  queued: number;
  reservedBytes: number;
  /** Refusals since start: the queue was full / a request could not start in time. */
  rejectedFull: number;
  rejectedTimeout: number;
  /** Runs given to the newest waiter because the queue was congested. */
  startedNewestFirst: number;
}

/** What a waiter's caller holds while it waits (the pipeline's Call): how to take it out of the queue. */
export interface WaitHolder {
  abandonWait?: (() => void) | undefined;
}

interface Waiter {
  holder: WaitHolder | undefined;
  bytes: number;
  key: string;
  /** Arrival, on the queue's clock (ms). */
  arrival: number;
  resolve: () => void;
  reject: (err: SidecarError) => void;
  timer: NodeJS.Timeout | undefined;
}

export class RunQueue {
  private limits: QueueLimits;
  private inFlight = 0;
  /** Runs that ended and whose answers are being encoded (until `answered`). */
  private answering = 0;
  private reserved = 0;
  /** Waiters in arrival order (removed from anywhere: LIFO and deadlines); at most maxQueued. */
  private readonly waiting: Waiter[] = [];
  private rejectedFull = 0;
  private rejectedTimeout = 0;
  private startedNewestFirst = 0;
  /** Service times per input shape: the deadline's estimates (fed through `observe`). */
  readonly serviceTimes: ServiceTimes;

  /** `budgetBytes`: what runs in flight may hold together (0: no memory bound). `now`: the clock (ms). */
  constructor(
    limits: QueueLimits,
    private readonly budgetBytes = 0,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.limits = { ...limits };
    this.serviceTimes = new ServiceTimes(now);
  }

  setLimits(limits: QueueLimits): void {
    this.limits = { ...limits };
    this.drain();
  }

  /** Retry-After for a refusal: the queue's time bound, at least a second. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.limits.maxQueueTimeMs / 1000));
  }

  /** One service time (start of the run to the last byte of the answer) of a run of this shape. */
  observe(key: string, ms: number): void {
    this.serviceTimes.observe(key, ms);
  }

  /** Runs that may be in flight (and answers in encoding) for a run of this shape. */
  private slots(key: string | undefined): number {
    const l = this.limits;
    const short = l.shortRunInFlight;
    return short !== undefined && short > l.maxInFlight && key !== undefined && this.serviceTimes.isShort(key, SHORT_RUN_MS) ? short : l.maxInFlight;
  }

  private fits(bytes: number, key?: string): boolean {
    const slots = this.slots(key);
    if (this.inFlight >= slots || this.answering > slots) return false;
    // An idle predictor takes any admitted run (admission already refused what can never fit).
    return this.budgetBytes <= 0 || this.inFlight + this.answering === 0 || this.reserved + bytes <= this.budgetBytes;
  }

  /** Takes a slot now when one is free and nobody waits; the caller must `leave(bytes)` after. `key`: the inputs' shapeKey. */
  tryEnter(bytes = 0, key?: string): boolean {
    if (this.waiting.length > 0 || !this.fits(bytes, key)) return false;
    this.inFlight++;
    this.reserved += bytes;
    return true;
  }

  /** Throws the `overloaded` refusal when a request arriving now could neither run nor wait. */
  refuseWhenFull(): void {
    if (this.waiting.length >= this.limits.maxQueued && !(this.waiting.length === 0 && this.fits(0))) throw this.full();
  }

  private full(): SidecarError {
    this.rejectedFull++;
    return new SidecarError('overloaded', `server busy: ${this.inFlight} runs in flight and ${this.waiting.length} waiting (queue.maxQueued ${this.limits.maxQueued})`, {
      retryAfterSeconds: this.retryAfterSeconds(),
    });
  }

  /** The latest moment (queue clock) a waiter's run may start and still answer in time. */
  private latestStart(w: Pick<Waiter, 'arrival' | 'key'>): number {
    const t = this.serviceTimes;
    return w.arrival + this.limits.maxQueueTimeMs + Math.min(0, t.oneRun(w.key) - t.slow(w.key));
  }

  private timeout(key: string): SidecarError {
    this.rejectedTimeout++;
    const t = this.serviceTimes;
    const slow = t.slow(key);
    const one = t.oneRun(key);
    const why = slow > one ? ` to answer in time (runs of this shape take up to ${Math.round(slow)} ms now, one run ${Math.round(one)} ms)` : '';
    return new SidecarError('queue_timeout', `server busy: no run slot within queue.maxQueueTimeMs (${this.limits.maxQueueTimeMs} ms)${why}`, {
      retryAfterSeconds: this.retryAfterSeconds(),
    });
  }

  /**
   * Waits for a slot. Rejects at once with `overloaded` when maxQueued are already waiting, with
   * `queue_timeout` at once when the request (which arrived `elapsedMs` ago) can no longer start
   * in time, else at its latest start; the caller must `leave(bytes)` after a resolved wait.
   * `key`: the inputs' shapeKey (service-times.ts). While it waits, `holder.abandonWait` takes it
   * out of the queue (rejected with `client_closed`: its client went away), so a waiter nobody
   * waits for stops counting toward maxQueued at once, not at its turn or its deadline.
   */
  enter(bytes = 0, elapsedMs = 0, key = '', holder?: WaitHolder): Promise<void> {
    if (this.tryEnter(bytes, key)) return Promise.resolve();
    if (this.waiting.length >= this.limits.maxQueued) return Promise.reject(this.full());
    const arrival = this.now() - elapsedMs;
    if (this.latestStart({ arrival, key }) <= this.now()) return Promise.reject(this.timeout(key));
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { bytes, key, arrival, resolve, reject, timer: undefined, holder };
      this.waiting.push(w);
      this.arm(w);
      if (holder) holder.abandonWait = () => this.abandon(w);
    });
  }

  /** A waiter whose client went away: out of the queue, rejected with `client_closed`, the next ones may start. */
  private abandon(w: Waiter): void {
    const i = this.waiting.indexOf(w);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    clearTimeout(w.timer);
    this.settled(w);
    w.reject(new SidecarError('client_closed', 'the client went away while it waited for a run slot: not run'));
    this.drain();
  }

  /** A waiter leaves the queue (started, refused or abandoned): its holder no longer reaches it. */
  private settled(w: Waiter): void {
    if (w.holder) w.holder.abandonWait = undefined;
  }

  /** Refuses `w` at its latest start (re-armed when the estimates moved it later meanwhile). */
  private arm(w: Waiter): void {
    const leftMs = this.latestStart(w) - this.now();
    w.timer = setTimeout(() => {
      const i = this.waiting.indexOf(w);
      if (i < 0) return;
      if (this.latestStart(w) - this.now() > 1) {
        this.arm(w);
        return;
      }
      this.waiting.splice(i, 1);
      this.settled(w);
      w.reject(this.timeout(w.key));
      this.drain();
    }, Math.max(0, leftMs));
    w.timer.unref?.();
  }

  /** Gives a slot back (and the bytes it held); starts the waiters that now fit. */
  leave(bytes = 0): void {
    this.inFlight--;
    this.reserved -= bytes;
    this.drain();
  }

  /** The run is over and its answer is being encoded: the run slot is free, the answer counts until `answered(bytes)`. */
  finishRun(): void {
    this.inFlight--;
    this.answering++;
    this.drain();
  }

  /** The answer of a `finishRun` is encoded: it and its bytes no longer count. */
  answered(bytes = 0): void {
    this.answering--;
    this.reserved -= bytes;
    this.drain();
  }

  /** Congested: the oldest waiter has waited half of maxQueueTimeMs; then the newest goes first. */
  private congested(): boolean {
    const oldest = this.waiting[0];
    return oldest !== undefined && this.waiting.length > 1 && this.now() - oldest.arrival >= this.limits.maxQueueTimeMs / 2;
  }

  private drain(): void {
    while (this.waiting.length > 0) {
      const newestFirst = this.congested();
      const i = newestFirst ? this.waiting.length - 1 : 0;
      const w = this.waiting[i] as Waiter;
      if (!this.fits(w.bytes, w.key)) break;
      this.waiting.splice(i, 1);
      clearTimeout(w.timer);
      this.settled(w);
      if (this.latestStart(w) < this.now()) {
        // Its timer is late (a busy loop): starting it now would answer past its deadline.
        w.reject(this.timeout(w.key));
        continue;
      }
      if (newestFirst) this.startedNewestFirst++;
      this.inFlight++;
      this.reserved += w.bytes;
      w.resolve();
    }
  }

  stats(): QueueStats {
    return {
      inFlight: this.inFlight,
      answering: this.answering,
      queued: this.waiting.length,
      reservedBytes: this.reserved,
      rejectedFull: this.rejectedFull,
      rejectedTimeout: this.rejectedTimeout,
      startedNewestFirst: this.startedNewestFirst,
    };
  }
}
