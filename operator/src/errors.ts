// Error classes and their handling: every failure in a reconcile is classified once, here.
//
//   transient  409 Conflict, 429 Too Many Requests, 5xx, network errors, timeouts
//              -> requeue the key with its exponential backoff
//   invalid    the PaddleService spec cannot be realised (schema or semantic error)
//              -> Ready=False reason=InvalidSpec + an Event; no requeue (the next spec change
//                 enqueues the key again), so a bad spec never causes a hot loop
//   permanent  4xx that retrying cannot fix (403 Forbidden, 422 Invalid on a child, ...)
//              -> logged, surfaced in status, requeued at the slow end of the backoff

import { ApiException } from '@kubernetes/client-node';

export type ErrorClass = 'transient' | 'invalid' | 'permanent';

/** The spec of a PaddleService cannot be turned into children; `message` is shown to the user. */
export class InvalidSpecError extends Error {
  override readonly name = 'InvalidSpecError';
  constructor(
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** The HTTP status of an API error, whichever client shape carried it; undefined otherwise. */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    if (typeof e.code === 'number' && e.code >= 100 && e.code < 600) return e.code;
  }
  return undefined;
}

/**
 * Whether an error, or one of its causes (four levels down), is a dropped or refused connection,
 * a name lookup or a timeout: the request may not have reached the API server. The operator's
 * work queue and the e2e helpers' retries (e2e/src/retry.ts) both read it.
 */
export function isNetworkError(err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; name?: unknown; cause?: unknown; message?: unknown };
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || e.name === 'FetchError') return true;
  if (typeof e.message === 'string' && /fetch failed|socket hang up|other side closed|ECONNREFUSED|ECONNRESET/.test(e.message)) return true;
  return isNetworkError(e.cause, depth + 1);
}

export function classifyError(err: unknown): ErrorClass {
  if (err instanceof InvalidSpecError) return 'invalid';
  const status = httpStatusOf(err);
  if (status !== undefined) {
    if (status === 409 || status === 429 || status >= 500) return 'transient';
    // 408 Request Timeout and 425 Too Early are retryable by definition.
    if (status === 408 || status === 425) return 'transient';
    return 'permanent';
  }
  if (isNetworkError(err)) return 'transient';
  // Unknown failures (a bug, an unexpected shape) are retried with backoff rather than dropped.
  return 'transient';
}

export function isNotFound(err: unknown): boolean {
  return httpStatusOf(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return httpStatusOf(err) === 409;
}

/** A short, single-line description of an error for logs, status and Events (no bodies). */
export function describeError(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    let detail = '';
    if (typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: string };
        detail = parsed.message ?? '';
      } catch {
        detail = body.slice(0, 200);
      }
    } else if (typeof body === 'object' && body !== null && 'message' in body) {
      detail = String((body as { message: unknown }).message);
    }
    return `HTTP ${err.code}${detail ? `: ${detail}` : ''}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
