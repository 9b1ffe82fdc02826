// Connection-level limits of the sidecar's listeners: how many connections each may hold, and
// how long a connection on which nothing moves is kept. Without them a client could open
// connections and send nothing (node:http and grpc-js both kept such a connection forever), or
// send a request and never read the answer (the connection, its buffers and its descriptor held
// forever), and enough of either exhausted the process's file descriptors: then no listener
// could accept, the kubelet's probes on the health port included, and the pod was restarted for
// a flood it could have refused.
//
// - A cap per API listener (REST, gRPC) and on the metrics port. Past it, the oldest connection
//   that holds no request (one that never sent a whole request, a TLS handshake not finished, a
//   keep-alive connection between requests; on gRPC, one with no call open) is closed to let the
//   new one in (counted `evicted`); only when every connection held has a request in progress is
//   the new one closed (counted `limit`). A refusal alone let a flood of connections that send
//   nothing keep every place: each lived until the header deadline, so ~200 new ones a second
//   held all 4096 and every real client was refused. The caps (plus a small headroom node's own
//   cap keeps for the choice) stay below the process's open-file limit, with room for the model's
//   files, logs, the API clients and the kubelet, so the health port can always accept. The health port
//   itself has no cap: a cap there would let anyone who fills it fail the kubelet's probes and
//   get the pod restarted (the chart's README has the NetworkPolicy admit only the nodes there).
// - An idle timeout (`idleTimeoutMs`, the keep-alive timeout too): a connection on which no byte
//   moved for that long is closed: one that never sent a request, a keep-alive connection
//   between requests, a client that stopped reading its answer (the write does not progress), or
//   one that stopped sending its body. A request being computed (its answer not started) is never
//   cut by it: the run queue's time bound and the client's own deadline govern those. A slow
//   reader whose answer still moves is not idle.
// - A header deadline (`headerTimeoutMs`, node's headersTimeout, checked every quarter of it): a
//   client that trickles its request line and headers a byte at a time is never idle, and node's
//   defaults (60 s, checked every 30 s) held such a connection ~90 s; now 20 s (checked every
//   5 s), then it is answered 408 and closed. Bodies have a pace of their own (json-body.ts).
// - A request node cannot parse (400, 431) or one past the header deadline (408) is answered as
//   node answers it, with a JSON body naming the problem, and counted (`malformed`,
//   `header_timeout`).

import { readFileSync } from 'node:fs';
import type { Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { BODY_PACE_DEFAULTS, type BodyPace, type PaceWindow, slowRate } from './pace.js';

/** Descriptors kept out of the listeners' caps: model files, logs, pipes, workers, API clients, the kubelet's probes. */
export const RESERVED_DESCRIPTORS = 256;
/** Connections a capped listener accepts past its cap before node refuses them itself: the moment in which it closes an older one instead (within RESERVED_DESCRIPTORS). */
export const EVICTION_HEADROOM = 8;
/** How many of the oldest connections a newcomer past the cap looks at for one holding no request. */
const EVICTION_SCAN = 64;
/** The cap of each API listener (REST, gRPC) when the open-file limit allows it. */
export const API_CONNECTIONS_DEFAULT = 4096;
/** The metrics port's cap: scrapers need a few. */
export const METRICS_CONNECTIONS = 64;
/** Seconds a connection may stay without a byte moving (and the keep-alive timeout). */
export const IDLE_TIMEOUT_S_DEFAULT = 65;
/** Seconds a request's line and headers may take to arrive whole. */
export const HEADER_TIMEOUT_S_DEFAULT = 20;

/** The soft "Max open files" of this process from /proc/self/limits; undefined where unknown or unlimited. */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!m || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

/**
 * The default cap of each of the two API listeners: API_CONNECTIONS_DEFAULT, or less where the
 * open-file limit would not hold both at their cap beside the side listeners and the reserve.
 */
export function defaultApiConnections(openFiles: number | undefined): number {
  if (openFiles === undefined) return API_CONNECTIONS_DEFAULT;
  const share = Math.floor((openFiles - RESERVED_DESCRIPTORS - METRICS_CONNECTIONS) / 2);
  return Math.max(16, Math.min(API_CONNECTIONS_DEFAULT, share));
}

export interface ConnectionLimits {
  /** Connections held at once; past it the oldest holding no request gives way to a newcomer, else the newcomer is closed (undefined: no cap). */
  maxConnections: number | undefined;
  /** Milliseconds without a byte moving after which a connection not being computed for is closed. */
  idleTimeoutMs: number;
  /** Milliseconds a request's line and headers may take (HTTP listeners; default HEADER_TIMEOUT_S_DEFAULT). */
  headerTimeoutMs?: number;
  /**
   * The bytes the kernel still holds to send on a socket's descriptor (the native addon's
   * unsentBytes; -1 where unknown). With it a connection node's keep-alive timeout closes is reset
   * when part of its last answer was never taken by its client, instead of closed behind it.
   */
  unsentBytes?: (fd: number) => number;
  /**
   * How fast a client must take an answer the process still holds (HTTP listeners; the REST
   * body's pace, --min-body-rate over its window): a connection whose answer waits in the process
   * at two checks a window apart, having passed less than the floor to the kernel meanwhile, is
   * reset (counted `slow`). Undefined or a floor of 0: only the idle timeout.
   */
  answerPace?: BodyPace;
  /**
   * The bytes of answers all REST connections together may hold in the process (node's and
   * libuv's write buffers) while their clients take them (HTTP listeners; 0 or undefined: no
   * bound). Checked once per pace window: past it, the connections taking their answers the
   * slowest are reset (counted `held`) until the rest fit, never the fastest (a single answer
   * above the budget is a download the pace alone judges). The pace resets readers of a few
   * KiB/s (the kernel takes more of an answer only in bursts of hundreds of KB), but readers of a
   * few hundred KiB/s pass it and each keep MBs in the process for tens of seconds: 80 of them at
   * 256 KiB/s on ~8 MB transformer answers took the sidecar to 741-752 MiB RSS (616 with this
   * bound at its default, bench/sidecar/held-answers.ts).
   */
  maxHeldAnswerBytes?: number;
}

/** Default of `--max-held-answer-bytes`: 256 MiB. */
export const HELD_ANSWER_BYTES_DEFAULT = 256 * 1024 * 1024;

/**
 * The API listeners' limits (REST and gRPC): each setting given, else its default (the cap from
 * the open-file limit, IDLE_TIMEOUT_S_DEFAULT, HEADER_TIMEOUT_S_DEFAULT, BODY_PACE_DEFAULTS as
 * the answer pace). main.ts passes its flags; the benches pass only the addon's unsentBytes, so
 * their servers run whatever a pod runs by default.
 */
export function apiConnectionLimits(o: Partial<ConnectionLimits> = {}): ConnectionLimits {
  return {
    maxConnections: o.maxConnections ?? defaultApiConnections(openFileLimit()),
    idleTimeoutMs: o.idleTimeoutMs ?? IDLE_TIMEOUT_S_DEFAULT * 1000,
    headerTimeoutMs: o.headerTimeoutMs ?? HEADER_TIMEOUT_S_DEFAULT * 1000,
    answerPace: o.answerPace ?? BODY_PACE_DEFAULTS,
    maxHeldAnswerBytes: o.maxHeldAnswerBytes ?? HELD_ANSWER_BYTES_DEFAULT,
    ...(o.unsentBytes ? { unsentBytes: o.unsentBytes } : {}),
  };
}

/** The header deadline of `limits` (ms): its own, or HEADER_TIMEOUT_S_DEFAULT. */
export function headerTimeoutOf(limits: Pick<ConnectionLimits, 'headerTimeoutMs'>): number {
  return limits.headerTimeoutMs ?? HEADER_TIMEOUT_S_DEFAULT * 1000;
}

/**
 * Where a listener counts the connections it closed: at its cap, idle, receiving a request or
 * taking an answer too slowly (`slow`), among the slowest takers while the answers held in the
 * process were over their budget (`held`, REST), a request it could not parse (`malformed`), or
 * headers past the header deadline.
 */
export type ConnectionClosed = (reason: 'limit' | 'evicted' | 'idle' | 'slow' | 'held' | 'malformed' | 'header_timeout') => void;

/**
 * The answer to a request node:http could not read, as node's own (same status, then the
 * connection closes) with a JSON body naming the problem. llhttp's `reason` is its own fixed text,
 * never the client's bytes.
 */
function clientErrorAnswer(err: { code?: string; reason?: string }, headerTimeoutMs: number): string {
  let status = '400 Bad Request';
  let message = `malformed HTTP request${err.code ? ` (${err.code}${err.reason ? `: ${err.reason}` : ''})` : ''}`;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = '408 Request Timeout';
    message = `request not received in time (its line and headers must arrive within ${headerTimeoutMs / 1000} s)`;
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = '431 Request Header Fields Too Large';
    message = 'request headers too large';
  } else if (err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') {
    status = '413 Payload Too Large';
    message = 'chunk extensions too large';
  }
  const body = JSON.stringify({ error: message });
  return `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * node's 'clientError' (a request it could not parse, or one past the header deadline): answered
 * as node answers it, counted, the connection closed. Without a listener node answers alone and
 * nothing counts them: a slow-header flood or a stream of garbage left no trace.
 */
function onClientError(server: HttpServer, headerTimeoutMs: number, onClosed: ConnectionClosed | undefined): void {
  server.on('clientError', (err: NodeJS.ErrnoException & { reason?: string }, socket: Watched) => {
    const parse = err.code?.startsWith('HPE_') === true;
    const late = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    // Other socket errors (a reset, a broken pipe) get no answer: the client is gone.
    if ((parse || late) && socket.writable && !socket._httpMessage?.headersSent) {
      onClosed?.(late ? 'header_timeout' : 'malformed');
      socket.write(clientErrorAnswer(err, headerTimeoutMs));
    }
    socket.destroy();
  });
}

/**
 * Closes a connection the sidecar gives up on with a reset (RST), discarding what it still had to
 * send. A plain close (FIN) of a connection whose client stopped reading leaves the kernel trying
 * to deliver the unsent answer in FIN-WAIT-1 for as long as the client keeps its window shut,
 * charged to the pod: 200 connections with ~1 MB answers not taken held 190 MB of socket buffers
 * after the process had closed them all (nginx's `reset_timedout_connection`, for the same reason).
 * A TLS socket is reset through the TCP socket under it.
 */
export function abandon(socket: Socket): void {
  const raw = tcpSocketOf(socket);
  const handle = (raw as Socket & { _handle?: unknown })._handle;
  if (!raw.destroyed && handle !== null && handle !== undefined) {
    try {
      raw.resetAndDestroy();
    } catch {
      raw.destroy(); // not a TCP handle (a pipe): a plain close
    }
  }
  socket.destroy();
}

/** The TCP socket under a TLS socket (node's `_parent`); a TCP socket itself. */
function tcpSocketOf(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket | null })._parent ?? socket;
}

/** What the kernel still holds to send on `socket` (its TCP socket's), by `unsentBytes`; 0 where unknown. */
function unsentOn(socket: Socket, unsentBytes: (fd: number) => number): number {
  const raw = tcpSocketOf(socket);
  const fd = (raw as Socket & { _handle?: { fd?: number } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? Math.max(0, unsentBytes(fd)) : 0;
}

/**
 * Caps a net.Server's connections at `maxConnections`, making room for a newcomer: past the cap
 * the oldest connection `idle(socket)` says holds no request is closed (counted `evicted`), else
 * the newcomer is (counted `limit`). Oldest first, so under a flood each new connection keeps its
 * place for about (cap / new connections per second) before it can be chosen: time for a real
 * client's handshake and request, after which it holds a request and is not chosen. Connections
 * found busy are moved behind the others, so a scan looks at a bounded number of them. node's
 * own cap sits EVICTION_HEADROOM above, for the moment between an accept and this choice.
 */
export function capConnections(server: NetServer, maxConnections: number | undefined, idle: (socket: Socket) => boolean, onClosed?: ConnectionClosed): void {
  if (maxConnections === undefined) return;
  server.maxConnections = maxConnections + EVICTION_HEADROOM;
  if (onClosed) server.on('drop', () => onClosed('limit'));
  /** The raw sockets held, oldest first (a Set keeps insertion order). */
  const held = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    held.add(socket);
    socket.once('close', () => held.delete(socket));
    if (held.size <= maxConnections) return;
    let room: Socket | undefined;
    const passed: Socket[] = [];
    for (const s of held) {
      if (s === socket || passed.length >= EVICTION_SCAN) break;
      if (idle(s)) {
        room = s;
        break;
      }
      passed.push(s);
    }
    // The busy ones looked at go behind the others (the next scan starts past them).
    for (const s of passed) {
      held.delete(s);
      held.add(s);
    }
    held.delete(room ?? socket);
    onClosed?.(room ? 'evicted' : 'limit');
    // An evicted connection may hold an answer its client never read.
    if (room) abandon(room);
    else socket.destroy();
  });
}

/** node's private per-socket state the sweep reads (stable across node's releases). */
type Watched = Socket & {
  /** The response node is writing on this socket now (kept there until it is done). */
  _httpMessage?: ServerResponse | null;
  /** Bytes libuv still has to hand to the kernel (it falls while a large write progresses). */
  _handle?: { writeQueueSize?: number } | null;
};

/**
 * Whether an accepted connection of a node:http(s) server holds no request: a TLS handshake not
 * finished, or no request whose headers came whole (node gives the socket a response then, until
 * it is written out): one that never sent a request, one between keep-alive requests, one whose
 * request line and headers are still arriving.
 */
function holdsNoRequest(raw: Socket, tls: boolean): boolean {
  const layer = (tls ? HTTP_LAYER.get(raw) : raw) as Watched | undefined;
  return layer?._httpMessage === undefined || layer._httpMessage === null;
}

/** The TLS socket node:http reads and writes over each accepted TCP socket of an HTTPS server (set once its handshake is done). */
const HTTP_LAYER = new WeakMap<Socket, Socket>();

/** Whether a request on the socket is being computed: read whole, no answer started, nothing to write. */
function computing(socket: Watched): boolean {
  const res = socket._httpMessage;
  return res !== undefined && res !== null && res.req.complete && !res.headersSent && socket.writableLength === 0;
}

/**
 * Applies both limits to a node:http(s) server. Between requests node's keep-alive timeout (the
 * idle timeout) closes a connection; the rest is a sweep over the open connections every quarter
 * of the idle timeout: a connection on which no byte was read, none written and libuv's write
 * queue did not move for the idle timeout is closed (one that never sent a request, a client that
 * stopped reading its answer or sending its body), unless a request on it is being computed.
 * Nothing runs per request (node's own socket timeout, `server.timeout`, would arm and refresh a
 * timer on every request: +0.8 us of CPU per request on a bare node:http server).
 */
export function guardHttpServer(server: HttpServer, limits: ConnectionLimits, onClosed?: ConnectionClosed): void {
  const tls = server instanceof TlsServer;
  capConnections(server, limits.maxConnections, (raw) => holdsNoRequest(raw, tls), onClosed);
  server.keepAliveTimeout = limits.idleTimeoutMs;
  const { unsentBytes } = limits;
  if (unsentBytes) {
    // node's keep-alive timeout: a connection quiet since its last answer went to the kernel.
    // Closed as node closes it (FIN), unless the kernel still holds part of that answer, which a
    // client that stopped reading never takes: then reset, so the kernel drops it (see abandon).
    server.on('timeout', (socket: Socket) => {
      if (unsentOn(socket, unsentBytes) > 0) {
        onClosed?.('idle');
        abandon(socket);
      } else socket.destroy();
    });
  }
  const headers = headerTimeoutOf(limits);
  server.headersTimeout = headers;
  onClientError(server, headers, onClosed);
  if (server.requestTimeout > 0 && server.requestTimeout < headers) server.requestTimeout = headers;
  // node reads it when the server starts listening (its check of every connection's deadlines).
  (server as HttpServer & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(100, Math.min(30_000, Math.floor(headers / 4)));
  const idle = limits.idleTimeoutMs;
  const open = new Map<Watched, { moved: string; since: number; answer?: PaceWindow | undefined }>();
  const pace = limits.answerPace !== undefined && limits.answerPace.minRateBytesPerSecond > 0 && limits.answerPace.windowMs > 0 ? limits.answerPace : undefined;
  const heldBudget = limits.maxHeldAnswerBytes !== undefined && limits.maxHeldAnswerBytes > 0 ? limits.maxHeldAnswerBytes : undefined;
  const checkEveryMs = pace?.windowMs ?? BODY_PACE_DEFAULTS.windowMs;
  let paceTimer: NodeJS.Timeout | undefined;
  /**
   * Once per pace window while connections are open: an answer still held in the process (in the
   * socket's buffer or libuv's write queue) at two checks must have moved at the floor to the
   * kernel between them. A client that stopped reading, or never opened its window, is reset.
   * Then, when the answers held in the process add up to more than the budget, the connections
   * taking theirs the slowest (bytes to the kernel per ms since their window began) are reset
   * until the rest fit, never the fastest of them; an answer first seen at this check is not
   * ranked yet.
   */
  const checkAnswers = (): void => {
    if ((!pace && !heldBudget) || open.size === 0) {
      clearInterval(paceTimer);
      paceTimer = undefined;
      return;
    }
    const now = Date.now();
    let total = 0;
    const ranked: { socket: Watched; held: number; rate: number }[] = [];
    for (const [socket, w] of open) {
      const held = socket.writableLength + (socket._handle?.writeQueueSize ?? 0);
      if (held === 0) {
        w.answer = undefined;
        continue;
      }
      // Bytes handed to the kernel so far: written by node, less what node and libuv still hold.
      const taken = (socket.bytesWritten ?? 0) - held;
      if (w.answer === undefined) w.answer = { bytes: taken, at: now };
      else {
        // Over the window so far, read before slowRate starts the next one.
        const rate = (taken - w.answer.bytes) / Math.max(1, now - w.answer.at);
        if (pace && slowRate(w.answer, taken, now, pace) !== undefined) {
          open.delete(socket);
          onClosed?.('slow');
          abandon(socket);
          continue;
        }
        ranked.push({ socket, held, rate });
      }
      total += held;
    }
    if (heldBudget === undefined || total <= heldBudget || ranked.length < 2) return;
    ranked.sort((a, b) => a.rate - b.rate);
    // Never the fastest: one answer larger than the budget, taken by a client that keeps up,
    // is a legitimate download (the pace alone judges it).
    for (const r of ranked.slice(0, -1)) {
      if (total <= heldBudget) break;
      open.delete(r.socket);
      onClosed?.('held');
      abandon(r.socket);
      total -= r.held;
    }
  };
  const watch = (socket: Watched): void => {
    if (tls) HTTP_LAYER.set(tcpSocketOf(socket), socket);
    open.set(socket, { moved: '', since: Date.now() });
    socket.once('close', () => open.delete(socket));
    if ((pace || heldBudget) && paceTimer === undefined) {
      paceTimer = setInterval(checkAnswers, checkEveryMs);
      paceTimer.unref();
    }
  };
  // The socket node:http reads and writes: the TLS socket on an HTTPS server.
  server.on(tls ? 'secureConnection' : 'connection', watch);
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [socket, w] of open) {
        const moved = `${socket.bytesRead}/${socket.bytesWritten}/${socket._handle?.writeQueueSize ?? 0}`;
        if (moved !== w.moved || computing(socket)) {
          w.moved = moved;
          w.since = now;
        } else if (now - w.since >= idle) {
          open.delete(socket);
          onClosed?.('idle');
          abandon(socket);
        }
      }
    },
    Math.max(25, Math.floor(idle / 4)),
  );
  sweep.unref();
  server.once('close', () => {
    clearInterval(sweep);
    clearInterval(paceTimer);
  });
}
