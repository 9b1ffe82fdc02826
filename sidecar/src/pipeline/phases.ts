// Where an inference's time went, for its access line (`phases_ms`): read by the overload bench
// to split a served request's latency, and by operators to see whether a slow answer waited,
// ran, encoded or was written slowly. Marks are ms since the request's arrival.

export interface PhaseMarks {
  /** Body read, authorized and parsed: the request reaches the run queue. */
  queued?: number;
  /** Its run started (a slot was free or it left the queue). */
  started?: number;
  /** The predictor returned. */
  ran?: number;
  /** The answer's bytes were ready (encoded inline or on the encode pool). */
  encoded?: number;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

/** parse / queue / run / encode / write durations; `totalMs`: arrival to the last byte written. */
export function phaseDurations(m: PhaseMarks, totalMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  let last = 0;
  for (const [name, at] of [['parse', m.queued], ['queue', m.started], ['run', m.ran], ['encode', m.encoded]] as const) {
    if (at === undefined) break;
    out[name] = round(at - last);
    last = at;
  }
  if (m.encoded !== undefined) out.write = round(totalMs - last);
  return out;
}
