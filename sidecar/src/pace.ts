// How slowly a client may send what it started to send: a request body (REST, json-body.ts) or
// a request message (gRPC, grpc/call-bound.ts). Both are held in memory until complete and
// both hold a place in a bound (bytes of bodies, calls open), so a client that starts and then
// trickles, or goes silent, must not keep either for as long as it likes.

/** The pace a request must keep. */
export interface BodyPace {
  /** Bytes per second a request must keep arriving at, over each window; 0: no floor. */
  minRateBytesPerSecond: number;
  /** The window (ms): also the age past which an incomplete request may be closed to make room for another. */
  windowMs: number;
}

/** 1 KiB/s over 5 s windows (Kestrel's floor is 240 B/s after 5 s; Apache's reqtimeout 500 B/s). */
export const BODY_PACE_DEFAULTS: BodyPace = { minRateBytesPerSecond: 1024, windowMs: 5000 };

/** A window of a pace check: the bytes counted when it began, and when (ms). */
export interface PaceWindow {
  bytes: number;
  at: number;
}

/**
 * Judges window `w` at `now`, `bytes` counted so far: undefined while it is shorter than (nearly)
 * a window, or when the bytes kept the pace (`share` times the floor; the next window then starts
 * here); else the rate over it in bytes/s, `w` left as it was (the caller ends what fell behind).
 */
export function slowRate(w: PaceWindow, bytes: number, now: number, pace: BodyPace, share = 1): number | undefined {
  const elapsed = now - w.at;
  if (elapsed < pace.windowMs * 0.9) return undefined;
  const rate = ((bytes - w.bytes) * 1000) / elapsed;
  if (pace.minRateBytesPerSecond > 0 && rate < pace.minRateBytesPerSecond * share) return rate;
  w.bytes = bytes;
  w.at = now;
  return undefined;
}

/** Whether a check saw it at least a window before `now`: an incomplete request old enough to give way. */
export function seenWindowAgo(seenAt: number | undefined, now: number, pace: BodyPace): boolean {
  return seenAt !== undefined && now - seenAt >= pace.windowMs;
}

/**
 * Runs `check` once per window while `busy()` holds, from a check-phase callback (after the
 * loop's poll phase read what had arrived, so a late tick does not mistake unread bytes for a
 * stall). Unref'd, started by `wake()` and stopped at the first tick that finds nothing to
 * watch: an idle process runs no timer.
 */
export class PaceTicker {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly windowMs: number,
    private readonly busy: () => boolean,
    private readonly check: () => void,
  ) {}

  wake(): void {
    if (this.#timer !== undefined || this.windowMs <= 0) return;
    this.#timer = setInterval(() => setImmediate(() => this.#tick()), this.windowMs);
    this.#timer.unref();
  }

  #tick(): void {
    if (!this.busy()) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    this.check();
  }
}
