// The OIP v2 gRPC front end (inference.GRPCInferenceService over @grpc/grpc-js): a thin adapter
// from gRPC calls to the request chain (call-core.ts). Every method opens a call (request id,
// trace context and dyeing from the metadata: x-request-id, traceparent, tracestate, x-env-id,
// x-test-group), ends it with the access line and request metrics (route label
// /inference.GRPCInferenceService/<Method>, HTTP-style status), and answers x-request-id and
// traceparent in the initial metadata. ModelInfer is guarded by the /v2/models/{model}/infer
// policy (the REST infer route's: same token scope, same rate-limit bucket) with the token from
// the `authorization` metadata, checked when the metadata arrives, before the message is read
// (early-access.ts), and is audited as `infer`. Errors map to gRPC codes (status.ts);
// Retry-After travels as `retry-after` trailing metadata.
//
// TLS: the serving certificate (and, for mutual TLS, the client CA) from the same files as the
// REST port, re-read when they change (grpc-js's FileWatcherCertificateProvider); with mutual
// TLS a client without a certificate from that CA fails the handshake. Connections: capped and
// closed when idle as the REST port's are (connections.ts), on a listener of our own; calls open at
// once are bounded and their request messages keep a pace (call-bound.ts).

import {
  type Metadata,
  Server,
  ServerCredentials,
  experimental,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { CallCore, CallHandle } from '../call-core.js';
import { API_CONNECTIONS_DEFAULT, capConnections, type ConnectionClosed, type ConnectionLimits, headerTimeoutOf, IDLE_TIMEOUT_S_DEFAULT } from '../connections.js';
import type { TlsFiles } from '../server.js';
import type { BodyPace } from '../pace.js';
import { openCallBound } from './call-bound.js';
import { earlyAccess } from './early-access.js';
import { refusalStatus, ReplyMetadata } from './reply.js';
import { buildGrpcInferResponse, parseGrpcInfer, type GrpcInferRequest } from './codec.js';
import { inferenceServiceDefinition, SERVICE_NAME } from './service.js';

export interface GrpcFrontEndOptions {
  core: CallCore;
  tls?: TlsFiles;
  /** Largest request message in bytes (the REST body limit's counterpart). */
  maxMessageBytes?: number;
  /** How often the certificate files are re-read (ms). */
  certRefreshMs?: number;
  /** The connection cap and idle timeout (connections.ts). */
  limits?: ConnectionLimits;
  /** Counts the connections closed at the cap, for idleness, or for receiving too slowly. */
  onConnectionClosed?: ConnectionClosed;
  /** The pace request messages must keep (call-bound.ts; default BODY_PACE_DEFAULTS). */
  pace?: BodyPace;
}

export interface GrpcFrontEnd {
  server: Server;
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
  /** Calls open now (openCallBound). */
  openCalls(): number;
  /** Calls still receiving their message that a pace check saw at least a window ago (call-bound.ts). */
  oldReceiving(): number;
}

const INFER_POLICY = '/v2/models/{model}/infer';
const INFER_PATH = `/${SERVICE_NAME}/ModelInfer`;

/**
 * Streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS; 100 is the
 * least HTTP/2 recommends). grpc-js buffers each stream's message until it is complete, before
 * any handler (auth included) sees it, and advertises no limit by default: one unauthenticated
 * connection could open thousands of streams, each sending all but the last byte of a message
 * up to the size limit, and pin that much memory. With the limit, a connection holds at most
 * this many partial messages (100 x the message limit).
 */
export const MAX_STREAMS_PER_CONNECTION = 100;
/**
 * Calls to the methods that need no token (ServerLive, ServerReady, ModelReady, the metadata and
 * config methods) open at once, beside ModelInfer's places: their messages are a few bytes, and
 * their handlers answer at once.
 */
export const OPEN_METHOD_CALLS = 32;
/** How long a keepalive ping may go unanswered before the connection is closed (ms). */
const KEEPALIVE_TIMEOUT_MS = 20_000;
const CLIENT_CLOSED = 499;

/** The call's metadata as lower-case HTTP-style headers (text entries only; `-bin` entries skipped). */
function headersOf(md: Metadata): IncomingHttpHeaders {
  const h: IncomingHttpHeaders = {};
  const map = md.getMap();
  for (const k in map) {
    const v = map[k];
    if (typeof v === 'string') h[k] = v;
  }
  return h;
}

/** The peer's address from grpc-js's peer string (ipv4:1.2.3.4:5, ipv6:[::1]:5, or host:port). */
function parsePeer(peer: string): string {
  const s = peer.replace(/^ipv[46]:/, '');
  const m = /^\[([^\]]+)\]:\d+$/.exec(s) ?? /^(.*):\d+$/.exec(s);
  return m?.[1] ?? s;
}

/** A connection's key, as grpc-js's getPeer() names it ("address:port"): how a call finds its socket. */
function connectionKey(s: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${s.remoteAddress}:${s.remotePort}`;
}

/** The last peer string parsed and its address: the calls of one connection repeat it (twice per ModelInfer). */
let lastPeer = { peer: '', address: parsePeer('') };
function peerAddress(peer: string): string {
  if (peer !== lastPeer.peer) lastPeer = { peer, address: parsePeer(peer) };
  return lastPeer.address;
}

function credentials(tls: TlsFiles | undefined, refreshMs: number, handshakeTimeoutMs: number): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  if (tls.mutual && !tls.caFile) throw new Error('mutual TLS needs a client CA file');
  const provider = new experimental.FileWatcherCertificateProvider({
    certificateFile: tls.certFile,
    privateKeyFile: tls.keyFile,
    ...(tls.mutual && tls.caFile ? { caCertificateFile: tls.caFile } : {}),
    refreshIntervalMs: refreshMs,
  });
  // grpc-js's parameters are named the other way round: the first is the identity provider.
  const creds = experimental.createCertificateProviderServerCredentials(provider, tls.mutual ? provider : null, tls.mutual);
  // A client that starts its handshake and never finishes it (one byte of a ClientHello, then
  // nothing) is held by node's TLS server for its own limit, 120 s, and grpc-js sets none: with
  // the connection cap, a few thousand such connections would shut the port for two minutes a
  // wave. The handshake gets the header deadline, as on the REST port (server.ts). grpc-js builds
  // its TLS server from these constructor options (http2.createSecureServer); the test
  // 'a TLS handshake that stops after one byte' fails if a grpc-js release stops reading them.
  const options = creds._getConstructorOptions();
  if (options !== null) creds._getConstructorOptions = () => ({ ...options, handshakeTimeout: handshakeTimeoutMs });
  return creds;
}

/** The HTTP/2 client connection preface (RFC 9113 3.4): what an h2c connection sends first. */
const H2_PREFACE_BYTES = 24;

/** What a method's handler gets: the decoded request, the pipeline's call, the peer. */
interface MethodCall<Req> {
  request: Req;
  call: CallHandle;
  /** The `authorization` metadata; undefined also when the call was admitted before its message (`authorized`). */
  authorization: string | undefined;
  /** Whether the call's access check passed before its message was read (early-access.ts). */
  authorized: boolean;
  peer: string;
  cancelled(): boolean;
}
type Handler<Req, Res> = (m: MethodCall<Req>) => Res | Promise<Res>;

/** The state of one unary call: a class, so no closures are made per call. */
class Unary<Req, Res> implements MethodCall<Req> {
  closed = false;
  readonly request: Req;
  constructor(
    private readonly core: CallCore,
    private readonly route: string,
    private readonly grpc: ServerUnaryCall<Req, Res>,
    private readonly done: sendUnaryData<Res>,
    readonly call: CallHandle,
    readonly authorization: string | undefined,
    readonly authorized: boolean,
    readonly peer: string,
  ) {
    this.request = grpc.request;
  }

  cancelled(): boolean {
    return this.grpc.cancelled;
  }

  /** Ends the call once: span, request metrics, access line. */
  close(status: number): void {
    if (this.closed) return;
    this.closed = true;
    this.core.close(this.call, status, this.route, 'POST');
  }

  /** The initial metadata: the request id and the server span's traceparent. */
  private sendReplyMetadata(): void {
    this.grpc.sendMetadata(new ReplyMetadata(this.call.requestId, this.core.traceparent(this.call)));
  }

  answer(res: Res): void {
    if (this.grpc.cancelled) return this.close(CLIENT_CLOSED);
    this.sendReplyMetadata();
    this.done(null, res);
    this.close(200);
  }

  fail(err: unknown): void {
    const e = this.core.fail(this.call, err);
    if (!this.grpc.cancelled) {
      this.sendReplyMetadata();
      this.done(refusalStatus(e));
    }
    this.close(this.grpc.cancelled ? CLIENT_CLOSED : e.httpStatus);
  }
}

const UNARY = Symbol('sidecar.grpc.unary');
/** The 'cancelled' listener of every call (one function: the emitter is the call, `this`). */
function onCancelled(this: { [UNARY]?: Unary<unknown, unknown> }): void {
  this[UNARY]?.close(CLIENT_CLOSED);
}

export function createGrpcFrontEnd(o: GrpcFrontEndOptions): GrpcFrontEnd {
  const core = o.core;
  // Refusals are counted as the queue's are (paddle_request_failures_total{reason="overloaded"}).
  // The listener's connections by grpc-js's peer string ("address:port"), for the pace check.
  const sockets = new Map<string, Socket>();
  // The one guarded method and its policy; every other method needs no token.
  const policyOf = (path: string): string | undefined => (path === INFER_PATH ? INFER_POLICY : undefined);
  const early = earlyAccess({
    core,
    policyOf,
    headersOf,
    addressOf: peerAddress,
    connectionOf: (peer) => sockets.get(peer),
  });
  const bound = openCallBound({
    max: () => core.capacity(),
    // The methods that need no token get places of their own: callers without one cannot take ModelInfer's.
    openMethods: { is: (path) => policyOf(path) === undefined, max: OPEN_METHOD_CALLS },
    // The access check when the metadata comes, in the same interceptor (its refusals end the call, which gives the place back).
    onMetadata: early.stage,
    // Its refusals and evictions answered with the request id and an access line, as every other refusal.
    end: early.end,
    ...(o.pace ? { pace: o.pace } : {}),
    socketOf: (peer) => sockets.get(peer),
    onSlowConnection: () => o.onConnectionClosed?.('slow'),
  });
  const limits = o.limits ?? { maxConnections: API_CONNECTIONS_DEFAULT, idleTimeoutMs: IDLE_TIMEOUT_S_DEFAULT * 1000 };
  const headerTimeoutMs = headerTimeoutOf(limits);
  const server = new Server({
    // A connection without a call for the idle timeout is closed (one that never sent one too);
    // one with calls is pinged as often, and closed when a ping goes unanswered for 20 s (a
    // client that stopped reading its connection: its answers would wait in memory for it).
    'grpc.max_connection_idle_ms': limits.idleTimeoutMs,
    'grpc.keepalive_time_ms': limits.idleTimeoutMs,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    'grpc.max_receive_message_length': o.maxMessageBytes ?? 4 * 1024 * 1024,
    'grpc.max_send_message_length': -1,
    'grpc.max_concurrent_streams': MAX_STREAMS_PER_CONNECTION,
    interceptors: [bound],
    // No channelz service is served, so its per-call bookkeeping (timestamps, counters on every
    // call and session) would be kept for nobody.
    'grpc.enable_channelz': 0,
  });

  /** One unary method: open the call, run `fn`, answer, close the call (always once). */
  const unary = <Req, Res>(method: string, fn: Handler<Req, Res>) => {
    // The route label is the method's: built once, not per call.
    const route = `/${SERVICE_NAME}/${method}`;
    return (grpc: ServerUnaryCall<Req, Res>, done: sendUnaryData<Res>): void => {
      const peer = peerAddress(grpc.getPeer());
      // A guarded method's call was opened and admitted when its metadata came (early-access.ts).
      const admitted = early.take(grpc.metadata);
      let u: Unary<Req, Res>;
      if (admitted) u = new Unary(core, route, grpc, done, admitted, undefined, true, peer);
      else {
        const headers = headersOf(grpc.metadata);
        u = new Unary(core, route, grpc, done, core.open('POST', route, headers, peer), headers.authorization, false, peer);
      }
      (grpc as { [UNARY]?: unknown })[UNARY] = u;
      grpc.on('cancelled', onCancelled);
      let out: Res | Promise<Res>;
      try {
        out = fn(u);
      } catch (err) {
        return u.fail(err);
      }
      if (out instanceof Promise) out.then((res) => u.answer(res), (err: unknown) => u.fail(err));
      else u.answer(out);
    };
  };

  const modelCheck = (req: { name: string; version: string }): void => core.checkModel(req.name, req.version === '' ? undefined : req.version);

  const impl: UntypedServiceImplementation = {
    ServerLive: unary('ServerLive', () => ({ live: true })),
    ServerReady: unary('ServerReady', () => ({ ready: core.readiness().ready })),
    ModelReady: unary<{ name: string; version: string }, { ready: boolean }>('ModelReady', (m) => {
      modelCheck(m.request);
      return { ready: core.readiness().ready };
    }),
    ServerMetadata: unary('ServerMetadata', () => core.serverMetadata()),
    ModelMetadata: unary<{ name: string; version: string }, unknown>('ModelMetadata', (m) => {
      modelCheck(m.request);
      return core.modelMetadata();
    }),
    ModelConfig: unary<{ name: string; version: string }, unknown>('ModelConfig', (m) => {
      modelCheck(m.request);
      return { config: core.modelConfig() };
    }),
    ModelInfer: unary<GrpcInferRequest, unknown>('ModelInfer', async (m) => {
      const { request: req, call } = m;
      if (!m.authorized) {
        const pending = core.authorize(call, INFER_POLICY, m.authorization, undefined, m.peer);
        if (pending) await pending;
      }
      core.checkModel(req.model_name, req.model_version === '' ? undefined : req.model_version);
      const io = core.io();
      const parsed = parseGrpcInfer(req, io.inputs, io.outputs);
      const outputs = await core.run(call, parsed.inputs);
      const res = buildGrpcInferResponse(core.modelName(), core.modelVersion, parsed.id, outputs, parsed.outputs);
      const cancelled = m.cancelled();
      core.audit(call, 'infer', cancelled ? CLIENT_CLOSED : 200, cancelled ? 'client_closed' : undefined);
      return res;
    }),
  };
  server.addService(inferenceServiceDefinition(), impl);
  const creds = credentials(o.tls, o.certRefreshMs ?? 2000, headerTimeoutMs);

  /**
   * The peers ("address:port") of the connections with a call open now, from grpc-js's own count
   * of each session's streams (kept for its idle timeout, which the server always sets): taken
   * once per event-loop turn, so a burst of new connections past the cap pays for it once.
   * undefined where this grpc-js keeps no such count (then only a connection that never sent a
   * byte is taken for one without a call).
   */
  let busy: Set<string> | undefined;
  const busyPeers = (): Set<string> | undefined => {
    const sessions = (server as unknown as { sessionIdleTimeouts?: unknown }).sessionIdleTimeouts;
    // grpc-js counts streams only with an idle timeout below its "never" (2^31 - 1 ms).
    if (!(sessions instanceof Map) || limits.idleTimeoutMs >= 2 ** 31 - 1) return undefined;
    if (busy) return busy;
    const peers = new Set<string>();
    for (const [session, info] of sessions as Map<{ socket?: { remoteAddress?: string; remotePort?: number } }, { activeStreams?: number }>) {
      if (!info.activeStreams) continue;
      const socket = session.socket;
      if (socket?.remoteAddress !== undefined) peers.add(connectionKey(socket));
    }
    busy = peers;
    setImmediate(() => void (busy = undefined));
    return peers;
  };
  /** Whether an accepted connection has no call open (nor any started): the cap may close it for a newcomer. */
  const holdsNoCall = (raw: Socket): boolean => {
    const peers = busyPeers();
    return peers === undefined ? raw.bytesRead === 0 : !peers.has(connectionKey(raw));
  };

  // The listening socket is ours (grpc-js's own listeners have no connection cap; ours makes room
  // for a newcomer past it, capConnections in connections.ts): each accepted
  // connection is handed to grpc-js, which does TLS and HTTP/2 on it with the same credentials.
  let listener: NetServer | undefined;
  return {
    server,
    openCalls: () => bound.open(),
    oldReceiving: () => bound.oldReceiving(),
    listen: (port, host = '0.0.0.0') =>
      new Promise((resolve, reject) => {
        const injector = server.createConnectionInjector(creds);
        const l = createNetServer({ noDelay: true }, (socket) => {
          const peer = connectionKey(socket);
          sockets.set(peer, socket);
          // A connection that sends no byte by the header deadline (no TLS ClientHello, no HTTP/2
          // preface) is closed: grpc-js's idle timeout starts only with an HTTP/2 session. So is
          // an h2c connection whose preface is not whole by then (a slow start, as a REST request
          // whose headers are late): nghttp2 waits for the rest for as long as the idle timeout.
          // With TLS, the handshake's own deadline (credentials above) covers a partial start.
          const silent = setTimeout(() => {
            const read = socket.bytesRead;
            if (read === 0) o.onConnectionClosed?.('idle');
            else if (!o.tls && read < H2_PREFACE_BYTES) o.onConnectionClosed?.('header_timeout');
            else return;
            socket.destroy();
          }, headerTimeoutMs);
          silent.unref();
          socket.once('close', () => {
            clearTimeout(silent);
            sockets.delete(peer);
          });
          injector.injectConnection(socket);
        });
        capConnections(l, limits.maxConnections, holdsNoCall, o.onConnectionClosed);
        listener = l;
        l.once('error', reject);
        l.listen(port, host, () => {
          l.off('error', reject);
          resolve((l.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        listener?.close();
        server.tryShutdown(() => resolve());
        // Calls still open after 5 s are cut (a shutdown must not hang on a stuck client).
        setTimeout(() => server.forceShutdown(), 5000).unref();
      }),
  };
}

