// Per-key exponential backoff: delay = min(base * 2^(failures-1), max), optionally jittered.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** 0..1: the delay is multiplied by a factor drawn from [1 - jitter, 1 + jitter]. */
  jitter?: number;
  random?: () => number;
}

export function computeBackoffDelay(failures: number, opts: BackoffOptions): number {
  if (failures <= 0) return 0;
  // 2^(n-1) overflows to Infinity for large n; Math.min caps it.
  const raw = Math.min(opts.baseMs * 2 ** (failures - 1), opts.maxMs);
  const jitter = opts.jitter ?? 0;
  if (jitter <= 0) return raw;
  const r = (opts.random ?? Math.random)();
  return Math.min(opts.maxMs, Math.round(raw * (1 - jitter + 2 * jitter * r)));
}

/** Counts failures per key and turns them into delays; `forget` resets a key after success. */
export class KeyedBackoff<K = string> {
  readonly #failures = new Map<K, number>();
  constructor(private readonly opts: BackoffOptions) {}

  /** Records one more failure for `key` and returns the delay before the next attempt. */
  next(key: K): number {
    const n = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, n);
    return computeBackoffDelay(n, this.opts);
  }

  failures(key: K): number {
    return this.#failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.#failures.delete(key);
  }
}
