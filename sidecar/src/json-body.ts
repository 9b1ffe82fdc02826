// Request body reading for the sidecar: the byte limit is enforced while reading (a declared
// Content-Length over the limit is refused before reading anything), the body must be JSON
// (an object or array at the top), declared as application/json (pipeline/content-type.ts), and
// compressed bodies are refused. Errors are SidecarErrors (413 / 400 / 415). The REST front end
// (rest/front-end.ts) reads every body here.

import type { IncomingMessage } from 'node:http';
import { SidecarError } from './errors.js';
import { checkContentType } from './pipeline/content-type.js';

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

export function hasBody(method: string | undefined): boolean {
  return method !== undefined && METHODS_WITH_BODY.has(method);
}

/** Reads and parses the JSON body; resolves `undefined` for an empty body. */
export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      req.resume();
      reject(new SidecarError('unsupported_media_type', `content encoding ${JSON.stringify(encoding.slice(0, 32))} is not supported`));
      return;
    }
    try {
      checkContentType(req.headers);
    } catch (err) {
      req.resume();
      reject(err as Error);
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limitBytes) {
      req.resume();
      reject(new SidecarError('payload_too_large', 'request body too large'));
      return;
    }
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    let failed = false;
    const fail = (err: SidecarError): void => {
      if (failed) return;
      failed = true;
      req.removeListener('data', onData);
      req.resume(); // discard the rest; the response goes out now
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) fail(new SidecarError('payload_too_large', 'request body too large'));
      else if (first === undefined) first = chunk;
      else (chunks ??= [first]).push(chunk);
    };
    req.on('data', onData);
    req.on('error', (err) => fail(new SidecarError('bad_request', 'request body could not be read', { cause: err })));
    req.on('end', () => {
      if (failed) return;
      if (size === 0 || first === undefined) {
        resolve(undefined);
        return;
      }
      const whole = chunks ? Buffer.concat(chunks, size) : first;
      const headerLength = req.headers['inference-header-content-length'];
      if (headerLength !== undefined) {
        try {
          resolve(splitBinaryBody(whole, headerLength));
        } catch (err) {
          fail(err instanceof SidecarError ? err : new SidecarError('malformed_json', 'malformed JSON header', { cause: err }));
        }
        return;
      }
      const text = whole.toString('utf8');
      const c = text.charCodeAt(firstNonSpace(text));
      if (c !== 0x7b /* { */ && c !== 0x5b /* [ */) {
        fail(new SidecarError('malformed_json', 'malformed JSON body'));
        return;
      }
      try {
        resolve(JSON.parse(text) as unknown);
      } catch (err) {
        fail(new SidecarError('malformed_json', 'malformed JSON body', { cause: err }));
      }
    });
  });
}

/** The binary part of each binary-extension body, by its parsed JSON header (see splitBinaryBody). */
const BINARY_TAILS = new WeakMap<object, Buffer>();

/** The bytes after the JSON header of a binary tensor extension request; undefined for a plain JSON body. */
export function binaryTailOf(body: unknown): Buffer | undefined {
  return typeof body === 'object' && body !== null ? BINARY_TAILS.get(body) : undefined;
}

/**
 * Triton's binary tensor extension: the first `Inference-Header-Content-Length` bytes are the
 * JSON inference header (an object), the rest the raw tensor bytes its inputs' binary_data_size
 * parameters claim in order (kept for binaryTailOf; oip.ts checks the sizes).
 */
export function splitBinaryBody(whole: Buffer, headerLength: string | string[]): unknown {
  const text = Array.isArray(headerLength) ? headerLength[0] : headerLength;
  if (text === undefined || !/^\d{1,10}$/.test(text.trim())) throw new SidecarError('bad_request', 'Inference-Header-Content-Length must be a byte count');
  const n = Number(text.trim());
  if (n === 0 || n > whole.length) throw new SidecarError('bad_request', `Inference-Header-Content-Length ${n} does not fit the ${whole.length}-byte body`);
  const head = whole.subarray(0, n).toString('utf8');
  if (head.charCodeAt(firstNonSpace(head)) !== 0x7b /* { */) throw new SidecarError('malformed_json', 'malformed JSON inference header: it must be an object');
  let parsed: unknown;
  try {
    parsed = JSON.parse(head);
  } catch (err) {
    throw new SidecarError('malformed_json', 'malformed JSON inference header', { cause: err });
  }
  BINARY_TAILS.set(parsed as object, whole.subarray(n));
  return parsed;
}

/** Index of the first character that is not JSON whitespace (space, tab, LF, CR); length if none. */
function firstNonSpace(text: string): number {
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
  }
  return i;
}
