// Where a predictor run executes: on the addon's thread pool (`run()`: the event loop goes on
// while it computes, but each run crosses two thread wake-ups, to the pool and back: 100-300 us
// on a small VM, for an MLP whose compute takes 40 us) or on the main thread (`runSync()`: no
// hop, but the event loop waits for the computation, and nothing else computes meanwhile).
// Only a run that is alone (no other call past the queue) in a quiet turn of the event loop
// (TurnLoad below: no other request reached the run stage in this turn or the one before) may
// run inline: under concurrency the pool computes while the main thread reads and answers other
// requests, which inline runs would give up. "Alone" by itself does not see that: while a run
// is inline the requests on other connections wait unread in their sockets, so under a closed
// loop of 8 connections most runs were alone and ran inline (MLP, 2-core VM: bare node:http
// 6516 -> 4592 req/s); the turn after such a run brings them all at once, and the quiet rule
// sees them. With dynamic batching on, a batch that serves one request is placed the same way
// (predict.ts); merged batches stay on the pool.
// Per predictor and input shape:
//   - unknown shapes run on the pool;
//   - a lone run on the pool whose compute took at most `maxMicros` moves its shape to the main
//     thread: the engine's own time of its last run (`stats().lastRun.latencyMs`, which is this
//     run's when it ran alone; a run that started and finished meanwhile can stand in for it,
//     and the next rule corrects that), else the time to the promise settled (hop included, so
//     an upper bound; the hop alone is 150-300 us on this VM when the threads were idle);
//   - a run on the main thread that took longer than `maxMicros` moves its shape back to the
//     pool (a shape whose compute hovers at the limit alternates; each inline run costs the
//     event loop at most about the limit).
// So the event loop never waits on a run known to take longer than `maxMicros`, and short
// runs skip the hop. `maxMicros` 0, or a predictor without runSync: always the pool.

import type { PredictorLike, Tensor } from '../predictor.js';

/**
 * Default of `--inline-run-us` (the longest run the event loop waits for): 200 us, an MLP's
 * 40-60 us run inline, a transformer's 700 us on the pool. Same-moment A/B on the MLP (2-core
 * VM, ABBA pairs of 3 s windows, 200 against 0): 1 connection +20 % req/s on bare node:http,
 * +37-41 % on the full chain; 8 and 32 connections 0.95-1.12x (within the pairs' spread), about
 * 1 % of runs inline there. 0: every run on the pool.
 */
export const INLINE_RUN_US_DEFAULT = 200;
/** Shapes remembered per predictor before the table starts over (callers choose shapes). */
const MAX_SHAPES = 1024;

type Outputs = Record<string, Tensor>;

/**
 * Arrivals at the run stage per turn of the event loop: the backlog "alone" cannot see. While the
 * main thread spends a turn on one request (an inline run among its work), the requests that
 * arrive on other connections wait in their sockets and are all read in the next turn; so a turn
 * that brought more than one request says callers are queueing, and runs go back to the pool,
 * whose second core computes while the main thread reads them. `quiet()`: at most one arrival in
 * this turn so far and in the turn before. Costs a counter per request and a setImmediate per
 * turn that had arrivals (and one more, to see the next turn empty).
 */
export class TurnLoad {
  private current = 0;
  private previous = 0;
  private scheduled = false;
  private readonly roll = (): void => {
    this.previous = this.current;
    this.current = 0;
    // Once more after a turn with arrivals, so that an empty turn is seen as one (previous 0).
    if (this.previous > 0) setImmediate(this.roll);
    else this.scheduled = false;
  };

  /** A request reached the run stage. */
  arrive(): void {
    this.current++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.roll);
    }
  }

  /** At most one arrival in this turn so far and in the one before it: no callers queueing in the sockets. */
  quiet(): boolean {
    return this.current <= 1 && this.previous <= 1;
  }
}

function elapsedUs(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e3;
}

/** The engine's compute time of the predictor's last run (us), where its stats say. */
function lastRunMicros(p: PredictorLike): number | undefined {
  const ms = (p.stats() as { lastRun?: { latencyMs?: unknown } } | undefined)?.lastRun?.latencyMs;
  return typeof ms === 'number' ? ms * 1000 : undefined;
}

export class RunPlacement {
  /** Per predictor: shape key -> true (main thread) / false (pool, last inline run too long). */
  private readonly shapes = new WeakMap<PredictorLike, Map<string, boolean>>();
  /** Runs made on the main thread and on the pool (for tests and the bench). */
  readonly counts = { inline: 0, pool: 0 };
  /** Arrivals per event-loop turn, counted only while placement is on (limit above 0). */
  private readonly turns: TurnLoad | undefined;

  constructor(private readonly maxMicros: number = INLINE_RUN_US_DEFAULT) {
    this.turns = maxMicros > 0 ? new TurnLoad() : undefined;
  }

  /** A request reached the run stage (before its admission and queue): counted for the quiet-turn rule. */
  arrive(): void {
    this.turns?.arrive();
  }

  private table(p: PredictorLike): Map<string, boolean> {
    let t = this.shapes.get(p);
    if (!t) {
      t = new Map();
      this.shapes.set(p, t);
    }
    return t;
  }

  /** Whether a lone run of `key` on `p` executes on the main thread. */
  inline(p: PredictorLike, key: string): boolean {
    return this.maxMicros > 0 && p.runSync !== undefined && this.shapes.get(p)?.get(key) === true;
  }

  /**
   * One run of `inputs` (shape key `key`) on `p`, where the rules above place it; `alone`: no
   * other call is past the queue (the caller's count), which counts only in a quiet turn (the
   * arrivals given to `arrive()`). With placement off (limit 0, no runSync) it is `p.run` itself:
   * nothing added to the request path.
   */
  run(p: PredictorLike, inputs: Outputs, key: string, alone: boolean): Promise<Outputs> {
    if (this.maxMicros <= 0 || p.runSync === undefined) {
      this.counts.pool++;
      return p.run(inputs);
    }
    return this.placed(p, inputs, key, alone);
  }

  private async placed(p: PredictorLike, inputs: Outputs, key: string, loneCall: boolean): Promise<Outputs> {
    const started = process.hrtime.bigint();
    const alone = loneCall && (this.turns === undefined || this.turns.quiet());
    if (alone && this.inline(p, key)) {
      this.counts.inline++;
      const out = (p.runSync as NonNullable<PredictorLike['runSync']>)(inputs);
      if (elapsedUs(started) > this.maxMicros) this.table(p).set(key, false);
      return out;
    }
    this.counts.pool++;
    const out = await p.run(inputs);
    if (alone && (lastRunMicros(p) ?? elapsedUs(started)) <= this.maxMicros) {
      const t = this.table(p);
      if (t.size >= MAX_SHAPES && !t.has(key)) t.clear();
      t.set(key, true);
    }
    return out;
  }
}
