// The body's declared media type, checked before the body is read: a body declared as anything
// but `application/json` (any case, parameters allowed; a charset, when given, must be utf-8)
// gets 415 naming what was sent and what is accepted, so text/plain, form and XML bodies are
// never served. A body with no Content-Type is read as JSON: the standard OIP clients
// (tritonclient, KServe's) send none. A binary tensor extension request (with
// Inference-Header-Content-Length) may also say application/octet-stream.

import type { IncomingHttpHeaders } from 'node:http';
import { SidecarError } from '../errors.js';

export const JSON_MEDIA_TYPE = 'application/json';

/** The media types the JSON routes accept. */
export const JSON_BODY_TYPES: readonly string[] = [JSON_MEDIA_TYPE];
/** ... and a binary tensor extension request (JSON header + raw tensor bytes). */
export const BINARY_BODY_TYPES: readonly string[] = [JSON_MEDIA_TYPE, 'application/octet-stream'];

/** Whether the request carries a body (a non-zero Content-Length, or chunked). */
export function declaresBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  if (length !== undefined) return length !== '0';
  return headers['transfer-encoding'] !== undefined;
}

/** The media type (lower case, without parameters) a body-bearing request declares, after checking it is accepted. */
export function checkContentType(headers: IncomingHttpHeaders): string | undefined {
  if (!declaresBody(headers)) return undefined;
  const raw = headers['content-type'];
  if (raw === undefined) return undefined;
  const accepted = headers['inference-header-content-length'] === undefined ? JSON_BODY_TYPES : BINARY_BODY_TYPES;
  if (raw === '') throw unsupported('an empty Content-Type', accepted);
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
