// The sidecar's one error type. Every failure a request can meet is a SidecarError with a
// stable machine-readable code, the HTTP status it maps to, and (optionally) the cause; the
// single error middleware in app.ts turns it into {"error": "..."}.

export type ErrorCode =
  | 'bad_request'
  | 'malformed_json'
  | 'payload_too_large'
  | 'request_timeout'
  | 'unsupported_media_type'
  | 'over_budget'
  | 'non_finite_output'
  | 'overloaded'
  | 'queue_timeout'
  | 'unauthenticated'
  | 'forbidden'
  | 'origin_not_allowed'
  | 'rate_limited'
  | 'model_not_found'
  | 'not_found'
  | 'not_ready'
  | 'shed'
  | 'breaker_open'
  | 'inference_failed'
  | 'inference_timeout'
  | 'decryption_failed'
  | 'not_configured'
  | 'client_closed'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  malformed_json: 400,
  payload_too_large: 413,
  // The request's body arrived too slowly (json-body.ts BodyBytes): the connection is closed too.
  request_timeout: 408,
  unsupported_media_type: 415,
  // The run's estimated memory is above the budget (README "Admission"): the request, not the server.
  over_budget: 422,
  // The model's answer for this input holds NaN or Infinity, which JSON numbers cannot carry.
  non_finite_output: 422,
  overloaded: 503,
  queue_timeout: 503,
  unauthenticated: 401,
  forbidden: 403,
  origin_not_allowed: 403,
  rate_limited: 429,
  model_not_found: 404,
  not_found: 404,
  not_ready: 503,
  shed: 503,
  breaker_open: 503,
  inference_failed: 500,
  inference_timeout: 504,
  decryption_failed: 400,
  not_configured: 501,
  // The caller went away first (nginx's 499): nothing is answered, the call is accounted for.
  client_closed: 499,
  internal: 500,
};

export interface SidecarErrorOptions {
  cause?: unknown;
  /** Seconds a client should wait before retrying (sets the Retry-After header). */
  retryAfterSeconds?: number;
  /** Overrides the status implied by the code (rarely needed). */
  httpStatus?: number;
  /** Close the connection after the answer (a body left unread, from a client not to be waited for). */
  closeConnection?: boolean;
}

export class SidecarError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly retryAfterSeconds: number | undefined;
  readonly closeConnection: boolean;

  constructor(code: ErrorCode, message: string, options: SidecarErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SidecarError';
    this.code = code;
    this.httpStatus = options.httpStatus ?? STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.closeConnection = options.closeConnection ?? false;
  }
}

/** A short, log-safe description of any thrown value (used for `@error.cause`). */
export function describeCause(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const prefix = typeof code === 'string' && code.length > 0 ? `${code}: ` : '';
    const inner = err.cause === undefined ? '' : ` (caused by ${describeCause(err.cause)})`;
    return `${prefix}${err.message}${inner}`;
  }
  return String(err);
}
