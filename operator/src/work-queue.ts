// A per-key work queue in the manner of client-go's rate-limited delaying queue:
// - dedup: a key waiting in the queue is queued once, however often it is added;
// - a key being processed is never handed to a second worker; if it is added meanwhile it is
//   queued again when the worker calls done(), so no event is lost;
// - addAfter keeps the earliest pending deadline per key;
// - addRateLimited delays by the key's exponential backoff; forget resets it;
// - three lanes, served in turn among those that hold keys: keys added as `first` (an object
//   seen for the first time), keys added as `steady` (housekeeping of a PaddleService that is
//   Ready and as asked: a periodic resync, a pod's periodic report), and the others (something
//   may have to change). With one FIFO, 1000 new PaddleServices put every PaddleService's next
//   reconcile (the one that sees its Deployment available and sets Ready) behind all the newer
//   ones' first reconciles; with two lanes, behind every Ready PaddleService's report-driven
//   reconcile (each pod reports every 15 s: the lane held ~all Ready PaddleServices at all
//   times). In turns, all move and none starves; a key waiting as `steady` that is added
//   without it moves to the others' lane.

import { KeyedBackoff, type BackoffOptions } from './backoff.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';

export interface WorkQueueOptions {
  clock?: Clock;
  backoff?: BackoffOptions;
  /** Called whenever the number of queued keys changes (metrics). */
  onDepthChange?: (depth: number) => void;
}

type Lane = 0 | 1 | 2;

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 5 * 60_000, jitter: 0.1 };

export class WorkQueue {
  readonly #clock: Clock;
  readonly #backoff: KeyedBackoff<string>;
  readonly #onDepthChange: ((depth: number) => void) | undefined;
  /** Waiting keys: lane 0 for keys added as `first`, lane 1 for the others, lane 2 for `steady` ones. */
  readonly #lanes: [string[], string[], string[]] = [[], [], []];
  /** The lane each waiting (dirty) key goes to. */
  readonly #laneOf = new Map<string, Lane>();
  #lastLane: Lane = 2;
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
    return this.#lanes[0].length + this.#lanes[1].length + this.#lanes[2].length;
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

  /**
   * `first`: the key's object was just seen for the first time; `steady`: nothing is expected
   * to change (its lane takes turns with the others; a later plain add moves the key out of it).
   */
  add(key: string, opts: { first?: boolean; steady?: boolean } = {}): void {
    if (this.#shuttingDown) return;
    const pending = this.#delayed.get(key);
    if (pending) {
      this.#clock.clearTimer(pending.timer);
      this.#delayed.delete(key);
    }
    const lane: Lane = opts.first ? 0 : opts.steady ? 2 : 1;
    if (this.#dirty.has(key)) {
      if (lane !== 2 && this.#laneOf.get(key) === 2) this.#move(key, lane);
      return;
    }
    this.#dirty.add(key);
    this.#laneOf.set(key, lane);
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

  /** A waiting key of the steady lane goes to `lane` (its place there: the end). */
  #move(key: string, lane: Lane): void {
    this.#laneOf.set(key, lane);
    if (this.#processing.has(key)) return; // queued by done(), in its new lane
    const from = this.#lanes[2];
    const i = from.indexOf(key);
    if (i < 0) return;
    from.splice(i, 1);
    this.#lanes[lane].push(key);
  }

  #pop(): string | undefined {
    // In turns among the lanes that hold keys (0, 1, 2, 0, ...).
    let lane: Lane | undefined;
    for (let step = 1; step <= 3 && lane === undefined; step++) {
      const l = ((this.#lastLane + step) % 3) as Lane;
      if (this.#lanes[l].length > 0) lane = l;
    }
    if (lane === undefined) return undefined;
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
