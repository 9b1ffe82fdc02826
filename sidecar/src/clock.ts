// Time as a dependency: the breaker, limiter and samplers take a Clock so tests can drive
// them deterministically. `systemClock` is the real one.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** What `work` resolves to, or `late` when it has not settled within `ms`; the timer is cleared either way. */
export async function within<T>(work: Promise<T>, ms: number, late: T, clock: Clock = systemClock): Promise<T> {
  let timer: unknown;
  try {
    return await Promise.race([
      work,
      new Promise<T>((resolve) => {
        timer = clock.setTimeout(() => resolve(late), ms);
      }),
    ]);
  } finally {
    clock.clearTimeout(timer);
  }
}
