// Stage 2, CORS (REST only; gRPC has no browsers): listed origins only, never `*`. A request
// without Origin passes untouched; a listed origin gets the allow/expose headers; any other
// origin is refused with 403 before anything else runs. A preflight (OPTIONS) is answered here.

import { SidecarError } from '../errors.js';

const PUBLIC_HEADERS = 'X-Request-Id, X-Env-Id, X-Test-Group, traceparent, tracestate, Retry-After';
const ALLOWED_REQUEST_HEADERS = 'Authorization, Content-Type, X-Request-Id, X-Env-Id, X-Test-Group, traceparent, tracestate';

/** The headers a preflight answer adds to `corsHeaders`'s (status 204, no body). */
export const PREFLIGHT_HEADERS: readonly string[] = ['Access-Control-Allow-Methods', 'GET, POST, OPTIONS', 'Access-Control-Allow-Headers', ALLOWED_REQUEST_HEADERS, 'Access-Control-Max-Age', '600'];

/**
 * The CORS headers for a request from `origin` (name/value pairs); undefined without an
 * Origin header. Throws 403 `origin_not_allowed` for an origin not on the list.
 */
export function corsHeaders(origin: string | undefined, allowedOrigins: readonly string[]): string[] | undefined {
  if (origin === undefined) return undefined;
  if (!allowedOrigins.includes(origin)) throw new SidecarError('origin_not_allowed', 'origin not allowed');
  return ['Access-Control-Allow-Origin', origin, 'Vary', 'Origin', 'Access-Control-Expose-Headers', PUBLIC_HEADERS];
}
