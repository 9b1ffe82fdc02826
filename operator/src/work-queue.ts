// A per-key work queue in the manner of client-go's rate-limited delaying queue:
// - dedup: a key waiting in the queue is queued once, however often it is added;
// - a key being processed is never handed to a second worker; if it is added meanwhile it is
//   queued again when the worker calls done(), so no event is lost;
// - addAfter keeps the earliest pending deadline per key;
// - addRateLimited delays by the key's exponential backoff; forget resets it;
// - two lanes, served in turn while both hold keys: keys added as `first` (an object seen for
//   the first time) and the others. With one FIFO, 1000 new PaddleServices put every
//   PaddleService's next reconcile (the one that sees its Deployment available and sets Ready)
//   behind all the newer ones' first reconciles; in turns, both move, and neither starves.

import { KeyedBackoff, type BackoffOptions } from './backoff.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';

export interface WorkQueueOptions {
  clock?: Clock;
  backoff?: BackoffOptions;
  /** Called whenever the number of queued keys changes (metrics). */
  onDepthChange?: (depth: number) => void;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 5 * 60_000, jitter: 0.1 };

export class WorkQueue {
  readonly #clock: Clock;
  readonly #backoff: KeyedBackoff<string>;
  readonly #onDepthChange: ((depth: number) => void) | undefined;
  /** Waiting keys: lane 0 for keys added as `first`, lane 1 for the others. */
  readonly #lanes: [string[], string[]] = [[], []];
  /** The lane each waiting (dirty) key goes to. */
  readonly #laneOf = new Map<string, 0 | 1>();
  #lastLane: 0 | 1 = 1;
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #delayed = new Map<string, { at: number; timer: TimerHandle }>();
  #getters: Array<(key: string | undefined) => void> = [];
  #shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.#clock = opts.clock ?? realClock;
    this.#backoff = new KeyedBackoff(opts.backoff ?? DEFAULT_BACKOFF);
    this.#onDepthChange = opts.onDepthChange;
  }

  /** Keys waiting to be handed to a worker (not counting delayed or in-flight keys). */
  get depth(): number {
    return this.#lanes[0].length + this.#lanes[1].length;
  }

  get delayedCount(): number {
    return this.#delayed.size;
  }

  get processingCount(): number {
    return this.#processing.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** `first`: the key's object was just seen for the first time (its lane takes turns with the others). */
  add(key: string, opts: { first?: boolean } = {}): void {
    if (this.#shuttingDown) return;
    const pending = this.#delayed.get(key);
    if (pending) {
      this.#clock.clearTimer(pending.timer);
      this.#delayed.delete(key);
    }
    if (this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#laneOf.set(key, opts.first ? 0 : 1);
    if (this.#processing.has(key)) return; // re-queued by done()
    this.#push(key);
  }

  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    if (this.#dirty.has(key) && !this.#processing.has(key)) return; // already due now
    const at = this.#clock.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending) {
      if (pending.at <= at) return;
      this.#clock.clearTimer(pending.timer);
    }
    const timer = this.#clock.setTimer(() => {
      const cur = this.#delayed.get(key);
      if (cur?.timer !== timer) return;
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { at, timer });
  }

  /** Requeues `key` after its next backoff delay (optionally capped); returns that delay. */
  addRateLimited(key: string, capMs = Infinity): number {
    const delay = Math.min(capMs, this.#backoff.next(key));
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count (call after a successful reconcile). */
  forget(key: string): void {
    this.#backoff.forget(key);
  }

  failures(key: string): number {
    return this.#backoff.failures(key);
  }

  /** Resolves with the next key, or undefined once the queue is shut down and drained. */
  get(): Promise<string | undefined> {
    const key = this.#pop();
    if (key !== undefined) return Promise.resolve(key);
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Marks `key` finished; if it was added while in flight it is queued again. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) this.#push(key);
  }

  shutdown(): void {
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) this.#clock.clearTimer(timer);
    this.#delayed.clear();
    const getters = this.#getters;
    this.#getters = [];
    for (const g of getters) g(undefined);
  }

  #push(key: string): void {
    const getter = this.#getters.shift();
    if (getter) {
      this.#dirty.delete(key);
      this.#laneOf.delete(key);
      this.#processing.add(key);
      getter(key);
      return;
    }
    this.#lanes[this.#laneOf.get(key) ?? 1].push(key);
    this.#onDepthChange?.(this.depth);
  }

  #pop(): string | undefined {
    // In turns while both lanes hold keys; otherwise whichever does.
    const other: 0 | 1 = this.#lastLane === 0 ? 1 : 0;
    const lane: 0 | 1 = this.#lanes[other].length > 0 ? other : this.#lastLane;
    const key = this.#lanes[lane].shift();
    if (key === undefined) return undefined;
    this.#lastLane = lane;
    this.#dirty.delete(key);
    this.#laneOf.delete(key);
    this.#processing.add(key);
    this.#onDepthChange?.(this.depth);
    return key;
  }
}
