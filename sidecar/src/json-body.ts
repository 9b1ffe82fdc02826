// Request body reading for the sidecar: the byte limit is enforced while reading (a declared
// Content-Length over the limit is refused before reading anything), the body must be JSON
// (an object or array at the top), declared as application/json (pipeline/content-type.ts), and
// compressed bodies are refused. Errors are SidecarErrors (413 / 400 / 415). The REST front end
// (rest/front-end.ts) reads every body here.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { SidecarError } from './errors.js';
import { BODY_PACE_DEFAULTS, type BodyPace, PaceTicker, type PaceWindow, seenWindowAgo, slowRate } from './pace.js';
import { checkContentType } from './pipeline/content-type.js';

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

export function hasBody(method: string | undefined): boolean {
  return method !== undefined && METHODS_WITH_BODY.has(method);
}

/**
 * How long a connection closed after a refusal still has its bytes read and dropped after the
 * server's FIN, before it is closed: a close with bytes still arriving sends a reset, and a client
 * still sending its body can lose the answer it has not read yet (Go's net/http and nginx's
 * lingering close wait the same way).
 */
const LINGER_MS = 2000;

/** Replaces node's destroySoon (called once an answer with `Connection: close` is out): FIN, then close after LINGER_MS. */
function lingeringClose(this: Socket): void {
  this.end();
  setTimeout(() => this.destroy(), LINGER_MS).unref();
}

/**
 * What becomes of a request body a refusal leaves unread (refused before or while reading it);
 * true when the connection is to close, and the answer must say `Connection: close`. A body whose
 * declared length is within `limitBytes` is read to its end and dropped, so the connection serves
 * the next request. Any other (declared beyond the limit, or chunked: its rest unknown) is not
 * read to its end: the connection closes after the answer, lingering as above. node:http alone
 * drains every refused body to its end: a declared 100 MB after its 413, or an endless chunked
 * body after its 401, kept the connection reading (80 MB and counting in a probe).
 */
export function leaveBody(req: IncomingMessage, limitBytes: number, close: boolean): boolean {
  if (req.complete || req.socket.destroyed) return close;
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const length = req.headers['content-length'];
  // Neither header: no body (a GET answered before node has marked its message complete).
  if (!chunked && length === undefined) return close;
  const closing = close || chunked || !(Number(length) <= limitBytes);
  if (closing) req.socket.destroySoon = lingeringClose;
  req.resume();
  return closing;
}

/** Where `readBody` hands the parsed body (undefined for an empty one) or the error; `ctx` is the caller's. */
export type BodyDone<C> = (ctx: C, err: SidecarError | undefined, body: unknown) => void;

/**
 * The bodies being read now, over every connection: their bytes and their bound (`cap()`, read
 * only while more than one full body is pending), and the pace each must keep. Each body is
 * buffered whole before it is parsed, so without a bound N connections, each sending all but the
 * last byte of a body at the limit, pin N x the limit (every route with a body is protected and
 * reads it only after the caller's token passed; a pod with auth off reads it at once).
 *
 * The bound alone is a lever for a slow client, though: ~capacity connections that send most of
 * a body and then one byte now and then (a "slow POST") held it full, and every other body was
 * refused, for as long as they trickled. So
 *   - a body must arrive at `minRateBytesPerSecond` or faster over every window of `windowMs`
 *     (checked once per window, after the loop's poll phase read what had arrived; a read's first
 *     window starts at the first check after it began): slower, it is answered 408 and its
 *     connection closed;
 *   - when a body's bytes cross the bound, the reads older than one window are closed first,
 *     oldest first (408), until it fits; only if it still does not is that body refused (503).
 * A trickler then holds its share for a window at most, and taking the bound from fast callers
 * needs as many bytes per window as they send: bandwidth, not patience.
 */
export class BodyBytes {
  used = 0;
  /** The reads in progress, oldest first (a Set keeps insertion order). */
  readonly reads = new Set<Reading>();
  readonly #ticker: PaceTicker;

  constructor(
    readonly cap: () => number,
    readonly pace: BodyPace = BODY_PACE_DEFAULTS,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.#ticker = new PaceTicker(pace.windowMs, () => this.reads.size > 0, () => this.check());
  }

  add(req: Reading): void {
    this.reads.add(req);
    this.#ticker.wake();
  }

  /** One pass over the reads (once per window, PaceTicker): those slower than the floor over their last window are closed. */
  check(): void {
    const now = this.now();
    for (const req of this.reads) {
      const r = req[READ];
      if (!r) continue;
      if (r.window === undefined) {
        r.seenAt = now;
        r.window = { bytes: r.size, at: now };
        continue;
      }
      const began = r.window.at;
      const rate = slowRate(r.window, r.size, now, this.pace);
      if (rate !== undefined) {
        settle(req, r, new SidecarError('request_timeout', `request body too slow: ${Math.round(rate)} bytes/s over the last ${((now - began) / 1000).toFixed(1)} s, below the minimum ${this.pace.minRateBytesPerSecond} bytes/s (${r.size} bytes received so far)`, { closeConnection: true }), undefined);
      }
    }
  }

  /** Reads a check saw at least one window ago (those makeRoom may close). */
  oldReads(): number {
    const now = this.now();
    let n = 0;
    for (const req of this.reads) if (seenWindowAgo(req[READ]?.seenAt, now, this.pace)) n++;
    return n;
  }

  /**
   * Makes room for `need` more bytes by closing reads older than one window (seen by a check at
   * least a window ago), oldest first, never `keep`. True when the bytes then fit the bound.
   */
  makeRoom(keep: Reading, need: number): boolean {
    const cap = this.cap();
    if (this.used + need <= cap) return true;
    const now = this.now();
    for (const req of this.reads) {
      if (this.used + need <= cap) break;
      if (req === keep) continue;
      const r = req[READ];
      if (!r || !seenWindowAgo(r.seenAt, now, this.pace)) break; // the rest are younger still
      settle(req, r, new SidecarError('request_timeout', `request body still incomplete after more than ${(this.pace.windowMs / 1000).toFixed(1)} s while newer bodies waited for room (${r.size} bytes received): the oldest reads are closed first when the server's body buffer is full`, { closeConnection: true }), undefined);
    }
    return this.used + need <= cap;
  }
}

/** One body being read: the state the shared listeners below work on (no closures per request). */
interface BodyRead {
  pending: BodyBytes | undefined;
  limit: number;
  first: Buffer | undefined;
  chunks: Buffer[] | undefined;
  size: number;
  settled: boolean;
  ctx: unknown;
  done: BodyDone<unknown>;
  /** BodyBytes.check: this read's current window (undefined until the first check saw it). */
  window: PaceWindow | undefined;
  /** When the first check saw this read (its age, for makeRoom). */
  seenAt: number | undefined;
}

const READ = Symbol('paddle.body');
type Reading = IncomingMessage & { [READ]?: BodyRead };

/** Ends a read once: no more data is kept (the rest is discarded, the answer goes out now). */
function settle(req: Reading, r: BodyRead, err: SidecarError | undefined, body: unknown): void {
  if (r.settled) return;
  r.settled = true;
  if (r.pending) {
    r.pending.used -= r.size;
    r.pending.reads.delete(req);
  }
  req[READ] = undefined;
  req.removeListener('data', onData);
  if (err) req.resume();
  r.done(r.ctx, err, body);
}

function onData(this: Reading, chunk: Buffer): void {
  const r = this[READ];
  if (!r) return;
  r.size += chunk.length;
  const pending = r.pending;
  if (r.size > r.limit) {
    if (pending) pending.used += chunk.length;
    settle(this, r, new SidecarError('payload_too_large', 'request body too large'), undefined);
  }
  // (The bound is looked up only while more than one full body is pending: not on a lone request's path.)
  else if (pending && pending.used + chunk.length > r.limit && !pending.makeRoom(this, chunk.length)) {
    pending.used += chunk.length;
    settle(this, r, bodiesFull(pending), undefined);
  } else {
    if (pending) pending.used += chunk.length;
    if (r.first === undefined) r.first = chunk;
    else (r.chunks ??= [r.first]).push(chunk);
  }
}

function bodiesFull(pending: BodyBytes): SidecarError {
  const mib = (n: number): string => (n / 1048576).toFixed(1);
  return new SidecarError('overloaded', `server busy: ${mib(pending.used)} MiB of request bodies are being received, above the ${mib(pending.cap())} MiB bound`, { retryAfterSeconds: 1 });
}

/** The client closed the connection before its body was complete (`cause`: node's error, when it gave one). */
function closedMidBody(cause?: Error): SidecarError {
  return new SidecarError('client_closed', 'the client closed the connection before the body was complete', { cause });
}

/** The request closed while its body was still being read (no 'end', maybe no 'error'): the client went away. */
function onClose(this: Reading): void {
  const r = this[READ];
  if (r) settle(this, r, closedMidBody(), undefined);
}

function onError(this: Reading, err: Error): void {
  const r = this[READ];
  if (!r) return;
  // node:http's 'aborted' (ECONNRESET): the client closed the connection before its body was complete.
  const gone = (err as NodeJS.ErrnoException).code === 'ECONNRESET';
  settle(this, r, gone ? closedMidBody(err) : new SidecarError('bad_request', 'request body could not be read', { cause: err }), undefined);
}

function onEnd(this: Reading): void {
  const r = this[READ];
  if (!r) return;
  if (r.size === 0 || r.first === undefined) {
    settle(this, r, undefined, undefined);
    return;
  }
  let body: unknown;
  try {
    body = parseBody(this, r.chunks ? Buffer.concat(r.chunks, r.size) : r.first);
  } catch (err) {
    settle(this, r, err instanceof SidecarError ? err : new SidecarError('malformed_json', 'malformed JSON body', { cause: err }), undefined);
    return;
  }
  settle(this, r, undefined, body);
}

/** The whole body as JSON, or as the binary tensor extension's JSON header (and its tail). */
function parseBody(req: IncomingMessage, whole: Buffer): unknown {
  const headerLength = req.headers['inference-header-content-length'];
  if (headerLength !== undefined) return splitBinaryBody(whole, headerLength);
  const text = whole.toString('utf8');
  const c = text.charCodeAt(firstNonSpace(text));
  if (c !== 0x7b /* { */ && c !== 0x5b /* [ */) throw new SidecarError('malformed_json', 'malformed JSON body');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SidecarError('malformed_json', 'malformed JSON body', { cause: err });
  }
}

/**
 * Reads and parses the body, then calls `done(ctx, err, body)` once (body undefined when empty).
 * The checks before reading (encoding, type, declared length) call `done` synchronously.
 * Callback form with listeners shared by every request: the inference path reads a body per
 * request, and a promise with its closures per read showed in the chain's profile.
 */
export function readBody<C>(req: IncomingMessage, limitBytes: number, ctx: C, done: BodyDone<C>, pending?: BodyBytes): void {
  const encoding = req.headers['content-encoding'];
  let early: SidecarError | undefined;
  // Content codings are case-insensitive; an empty field applies none.
  if (encoding !== undefined && encoding !== 'identity' && !/^\s*(identity)?\s*$/i.test(encoding)) early = new SidecarError('unsupported_media_type', `content encoding ${JSON.stringify(encoding.slice(0, 32))} is not supported`);
  else {
    try {
      checkContentType(req.headers);
    } catch (err) {
      early = err as SidecarError;
    }
    const declared = Number(req.headers['content-length']);
    if (!early && Number.isFinite(declared) && declared > limitBytes) early = new SidecarError('payload_too_large', 'request body too large');
  }
  if (early) {
    req.resume();
    done(ctx, early, undefined);
    return;
  }
  const r: BodyRead = { pending, limit: limitBytes, first: undefined, chunks: undefined, size: 0, settled: false, ctx, done: done as BodyDone<unknown>, window: undefined, seenAt: undefined };
  const reading = req as Reading;
  reading[READ] = r;
  pending?.add(reading);
  reading.on('data', onData);
  reading.on('error', onError);
  reading.on('end', onEnd);
  reading.on('close', onClose);
}

/** Reads and parses the JSON body; resolves `undefined` for an empty body (readBody as a promise). */
export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => readBody(req, limitBytes, undefined, (_ctx, err, body) => (err ? reject(err) : resolve(body))));
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
