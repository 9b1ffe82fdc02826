// Where a predictor run executes: on the addon's thread pool (`run()`: the event loop goes on
// while it computes, but each run crosses two thread wake-ups, to the pool and back: 100-300 us
// on a small VM, for an MLP whose compute takes 40 us) or on the main thread (`runSync()`: no
// hop, but the event loop waits for the computation, and nothing else computes meanwhile).
// Only a run that is alone (no other call past the queue: a lone caller, or traffic sparse
// enough that runs do not meet) may run inline: under concurrency the pool computes while the
// main thread reads and answers other requests, which inline runs would give up (batching on,
// MLP, 32 connections: 6911 req/s with every short run inline against 8961 on the pool). With
// dynamic batching on, runs stay on the pool (predict.ts).
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
 * Default of `--inline-run-us` (the longest run the event loop waits for): 0, every run on the
 * pool. "Alone" sees only calls past the queue, not requests still in the sockets: under a
 * closed loop of 8 connections most runs were alone and ran inline, giving up the pool's
 * second core (MLP, 2-core VM: bare node:http 6516 -> 4592 req/s, the chain 5349 -> 3811),
 * against what it gains for a lone caller (1 connection: 2407 against 1965 req/s, the run
 * phase p50/p99 80/260 against 184/1003 us). Opt in where callers are sparse; 200 is a sane
 * value (an MLP's 40 us run inline, a transformer's 700 us on the pool).
 */
export const INLINE_RUN_US_DEFAULT = 0;
/** Shapes remembered per predictor before the table starts over (callers choose shapes). */
const MAX_SHAPES = 1024;

type Outputs = Record<string, Tensor>;

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

  constructor(private readonly maxMicros: number = INLINE_RUN_US_DEFAULT) {}

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
   * other call is past the queue. With placement off (limit 0, no runSync) it is `p.run` itself:
   * nothing added to the request path.
   */
  run(p: PredictorLike, inputs: Outputs, key: string, alone: boolean): Promise<Outputs> {
    if (this.maxMicros <= 0 || p.runSync === undefined) {
      this.counts.pool++;
      return p.run(inputs);
    }
    return this.placed(p, inputs, key, alone);
  }

  private async placed(p: PredictorLike, inputs: Outputs, key: string, alone: boolean): Promise<Outputs> {
    const started = process.hrtime.bigint();
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
