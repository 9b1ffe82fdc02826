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
 * run until its outputs were back on the main thread. Written out mark by mark (no list of
 * pairs per call): every access line computes it.
 */
export function phaseDurations(m: PhaseMarks, totalMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  const last = fillPhases(out, m);
  // `encode` is there only when every mark up to `encoded` was: a write phase after a gap would
  // hold the missing phases too.
  if (out.encode !== undefined) out.write = round(totalMs - last);
  return out;
}

/** Each phase up to the first missing mark (`batch` may be missing alone); returns the last mark. */
function fillPhases(out: Record<string, number>, m: PhaseMarks): number {
  if (m.queued === undefined) return 0;
  out.parse = round(m.queued);
  let last = m.queued;
  if (m.started === undefined) return last;
  out.queue = round(m.started - last);
  last = m.started;
  if (m.batched !== undefined) {
    out.batch = round(m.batched - last);
    last = m.batched;
  }
  if (m.ran === undefined) return last;
  out.run = round(m.ran - last);
  last = m.ran;
  if (m.encoded === undefined) return last;
  out.encode = round(m.encoded - last);
  return m.encoded;
}
