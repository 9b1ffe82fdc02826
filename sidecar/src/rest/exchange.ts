// One REST request/response pair and the pipeline call it carries, plus the answer writers.
// Every answer goes out in one writeHead: the status, the call's headers (request id,
// traceparent/tracestate, X-Env-Id, X-Test-Group: context.ts's answerHeaders, so a canary group
// re-assigned after authn is what the caller sees), the extra headers stages added (CORS,
// Retry-After), the content type and length (node's cheapest path: no per-header bookkeeping).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Call } from '../pipeline/call.js';
import { answerHeaders } from '../pipeline/context.js';

export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly call: Call;
  readonly method: string;
  /** Headers stages added for the answer (CORS, Retry-After), name/value pairs. */
  extra: string[] | undefined;
  /** Path parameters of the matched route. */
  model: string | undefined;
  version: string | undefined;
  /** The matched route while its body is read (the front end's, opaque here). */
  match: unknown;
}

const JSON_TYPE = 'application/json';

function head(x: Exchange, own: string[]): string[] {
  const h = answerHeaders(x.call);
  if (x.extra) for (const v of x.extra) h.push(v);
  for (const v of own) h.push(v);
  return h;
}

/** Adds a header to the answer (before it is written). */
export function addHeader(x: Exchange, name: string, value: string): void {
  (x.extra ??= []).push(name, value);
}

export function sendJson(x: Exchange, status: number, body: unknown): void {
  sendJsonText(x, status, JSON.stringify(body));
}

/** A JSON answer already encoded (text, or bytes from the encode pool). */
export function sendJsonText(x: Exchange, status: number, text: string | Buffer): void {
  const length = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  x.res.writeHead(status, head(x, ['Content-Type', JSON_TYPE, 'Content-Length', String(length)]));
  x.res.end(text);
}

/** An answer without a body (a CORS preflight, an OPTIONS request). */
export function sendEmpty(x: Exchange, status: number, own: readonly string[]): void {
  x.res.writeHead(status, head(x, [...own]));
  x.res.end();
}

/**
 * A binary tensor extension answer (200): the JSON header, then the raw output bytes;
 * `Inference-Header-Content-Length` says where the header ends.
 */
export function sendBinaryInfer(x: Exchange, header: string, chunks: Buffer[]): void {
  const headBytes = Buffer.from(header, 'utf8');
  const body = chunks.length === 0 ? headBytes : Buffer.concat([headBytes, ...chunks]);
  x.res.writeHead(200, head(x, ['Content-Type', 'application/octet-stream', 'Inference-Header-Content-Length', String(headBytes.length), 'Content-Length', String(body.length)]));
  x.res.end(body);
}

/** Starts a streamed JSON answer (chunked); the caller writes the body and ends it. */
export function startJsonStream(x: Exchange, status: number): ServerResponse {
  x.res.writeHead(status, head(x, ['Content-Type', JSON_TYPE]));
  return x.res;
}
