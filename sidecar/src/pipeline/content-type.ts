// The body's declared media type, checked before the body is read: a request with a body must
// say `Content-Type: application/json` (any case, parameters allowed; a charset, when given,
// must be utf-8), else 415 naming what was sent and what is accepted. Other body formats (the
// binary tensor extension) join by adding their type to the list a route accepts.

import type { IncomingHttpHeaders } from 'node:http';
import { SidecarError } from '../errors.js';

export const JSON_MEDIA_TYPE = 'application/json';

/** The media types the JSON routes accept. */
export const JSON_BODY_TYPES: readonly string[] = [JSON_MEDIA_TYPE];

/** Whether the request carries a body (a non-zero Content-Length, or chunked). */
export function declaresBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  if (length !== undefined) return length !== '0';
  return headers['transfer-encoding'] !== undefined;
}

/** The media type (lower case, without parameters) a body-bearing request declares, after checking it is accepted. */
export function checkContentType(headers: IncomingHttpHeaders, accepted: readonly string[] = JSON_BODY_TYPES): string | undefined {
  if (!declaresBody(headers)) return undefined;
  const raw = headers['content-type'];
  if (raw === undefined || raw === '') throw unsupported('a body without a Content-Type', accepted);
  const semi = raw.indexOf(';');
  const type = (semi < 0 ? raw : raw.slice(0, semi)).trim().toLowerCase();
  if (!accepted.includes(type)) throw unsupported(`Content-Type ${JSON.stringify(raw.slice(0, 64))}`, accepted);
  if (semi >= 0) {
    const charset = /(?:^|;)\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(raw.slice(semi))?.[1];
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8' && charset.toLowerCase() !== 'utf8') {
      throw unsupported(`charset ${JSON.stringify(charset.slice(0, 32))}`, accepted);
    }
  }
  return type;
}

function unsupported(what: string, accepted: readonly string[]): SidecarError {
  return new SidecarError('unsupported_media_type', `${what} is not supported: send ${accepted.join(' or ')}`);
}
