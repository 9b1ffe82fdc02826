// Retries of API calls that failed for a transient reason. On a loaded 2-core machine the API
// server answers 429 (too many requests in flight), 5xx (etcd or the server's own request
// timeout) or drops the connection while it is starved or restarting; a user's client retries
// those, so a test's setup and clean-up calls do too. Anything else (400, 403, 404, 409, 422...)
// is an answer, returned to the caller at once.
import { ApiException } from '@kubernetes/client-node';
import { isConflict, isNetworkError } from '../../operator/src/errors.js';

export { isConflict };

const TRANSIENT_CODES = new Set([429, 500, 502, 503, 504]);

/**
 * Whether an error from an API call is worth retrying: throttled, a server-side timeout, or a
 * dropped connection (the operator's own test for those, operator/src/errors.ts).
 */
export function isTransientApiError(err: unknown): boolean {
  if (err instanceof ApiException) return TRANSIENT_CODES.has(err.code);
  return isNetworkError(err);
}

export interface RetryOptions {
  /** Give up after this long (default 120 s): a bound on an outage, not an expected duration. */
  timeoutMs?: number;
  /** First delay between tries (default 500 ms), doubled up to 5 s. */
  firstDelayMs?: number;
  /**
   * For creates: a 409 on a retry means an earlier try that seemed to fail did create the
   * object (the answer was lost); this turns it into the value to return.
   */
  onConflictAfterRetry?: () => Promise<unknown>;
}

/**
 * Runs `call`, retrying transient failures (isTransientApiError) until `timeoutMs`; any other
 * error, or the last transient one, is thrown with `what` and the number of tries.
 */
export async function retryTransient<T>(what: string, call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let delay = options.firstDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt > 1 && isConflict(err) && options.onConflictAfterRetry) return (await options.onConflictAfterRetry()) as T;
      if (!isTransientApiError(err) || Date.now() + delay > deadline) {
        if (attempt > 1 && err instanceof Error) err.message = `${what} (after ${attempt} tries): ${err.message}`;
        throw err;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
