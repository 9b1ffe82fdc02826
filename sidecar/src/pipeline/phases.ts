// Where an inference's time went, for its access line (`phases_ms`): read by the overload bench
// to split a served request's latency, and by operators to see whether a slow answer waited,
// ran, encoded or was written slowly. Marks are ms since the request's arrival.

export interface PhaseMarks {
  /** Body read, authorized and parsed: the request reaches the run queue. */
  queued?: number;
  /** It left the run queue (a slot was free or its turn came): handed to the predictor, or to the batcher. */
  started?: number;
  /** Batching on: the batch holding it left the batcher's queue and its run started. */
  batched?: number;
  /** The predictor returned. */
  ran?: number;
  /** The answer's bytes were ready (encoded inline or on the encode pool). */
  encoded?: number;
}

/** Microsecond resolution: a batch run of a small model is a fraction of a millisecond. */
const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/**
 * parse / queue / batch / run / encode / write durations; `totalMs`: arrival to the last byte
 * written. `batch` (batching on only) is the wait in the batcher's queue, `run` then the shared
 * run until its outputs were back on the main thread.
 */
export function phaseDurations(m: PhaseMarks, totalMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  let last = 0;
  for (const [name, at] of [['parse', m.queued], ['queue', m.started], ['batch', m.batched], ['run', m.ran], ['encode', m.encoded]] as const) {
    if (at === undefined) {
      if (name === 'batch') continue;
      break;
    }
    out[name] = round(at - last);
    last = at;
  }
  if (m.encoded !== undefined) out.write = round(totalMs - last);
  return out;
}
