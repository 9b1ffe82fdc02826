// The REST (HTTP/1.1) front end: a thin adapter from node:http requests into the pipeline
// (call-core.ts), over the one router (router.ts, built from SIDECAR_ROUTES). Per request:
//   context (request id, trace, dyeing: the call) -> CORS (listed origins; preflight answered)
//   -> route (404 for none) -> for a guarded or POST route: shed when the run queue is full
//   (inference routes, before the body is read) -> authn/authz/rate limit (guarded routes, from
//   the headers: before the body is read; `100 Continue` only now) -> body (limit 413, JSON 400,
//   type 415) -> model allow-list (routes naming a model) ->
//   the route's work (routes.ts: inference runs admission/degradation/breaker/queue/predictor)
//   -> answer (exchange.ts) -> audit; telemetry (span, metrics, access line) when the response
//   closes, also for a caller that left first (499). Every error goes through `fail`.

import type { RequestListener, ServerResponse } from 'node:http';
import type { CallCore } from '../call-core.js';
import type { SidecarConfig } from '../config.js';
import { SidecarError } from '../errors.js';
import { BodyBytes, hasBody, leaveBody, readBody } from '../json-body.js';
import type { BodyPace } from '../pace.js';
import { CLIENT_CLOSED_STATUS } from '../pipeline/call.js';
import { headerValue } from '../pipeline/context.js';
import { corsHeaders, PREFLIGHT_HEADERS } from '../pipeline/cors.js';
import { addHeader, type Exchange, sendEmpty, sendJson } from './exchange.js';
import { type RouteMatch, Router } from './router.js';
import { type RouteDeps, type RouteHandler, routeHandlers } from './routes.js';

export interface RestOptions extends Omit<RouteDeps, 'core'> {
  core: CallCore;
  config: () => SidecarConfig;
  bodyLimitBytes: number;
  /** Shed before parsing: 503 at once when the run queue is full (inference routes only). */
  refuseWhenFull: () => void;
  /** Bytes of request bodies that may be received at once, over every connection (beyond: 503). */
  pendingBodyBytes: () => number;
  /** How slowly a body may arrive (json-body.ts BodyBytes; default BODY_PACE_DEFAULTS). */
  bodyPace?: BodyPace;
}

export interface RestFrontEnd {
  handler: RequestListener;
  router: Router<RouteHandler>;
  /** The request bodies being read now (their bytes, bound and pace). */
  bodies: BodyBytes;
}

/** The routes that run the predictor: shed before their body is read when the queue is full. */
const INFERENCE_ROUTES = new Set(['/v2/models/{model}/infer', '/v1/predict']);
const EXCHANGE = Symbol('paddle.rest.exchange');
type WithExchange = ServerResponse & { [EXCHANGE]?: Exchange };

export function createRestFrontEnd(o: RestOptions): RestFrontEnd {
  const core = o.core;
  const router = new Router<RouteHandler>(routeHandlers({ ...o, core }));
  const pending = new BodyBytes(o.pendingBodyBytes, o.bodyPace);

  // 'close' comes once per response: after 'finish' when the answer went out, alone when the
  // connection closed first. One function for every response (no closure per request).
  function onClose(this: WithExchange): void {
    const x = this[EXCHANGE];
    if (!x) return;
    const answered = this.writableFinished;
    const call = x.call;
    call.clientClosed = !answered;
    if (!answered) call.failureReason ??= `client_closed: the connection closed before the response was ${this.headersSent ? 'complete' : 'sent'}`;
    core.close(call, answered ? this.statusCode : CLIENT_CLOSED_STATUS, call.route ?? 'unmatched', x.method);
  }

  const fail = (x: Exchange, err: unknown): void => {
    try {
      const e = core.fail(x.call, err);
      if (x.res.headersSent) {
        x.res.destroy(e);
        return;
      }
      if (e.retryAfterSeconds !== undefined) addHeader(x, 'Retry-After', String(e.retryAfterSeconds));
      // A body left unread is dropped when its declared length is within the limit, else the connection closes after the answer.
      if (leaveBody(x.req, o.bodyLimitBytes, e.closeConnection)) addHeader(x, 'Connection', 'close');
      sendJson(x, e.httpStatus, { error: e.message });
    } catch {
      x.res.destroy();
    }
  };

  /** After the body: the model allow-list and the work. Never rejects. */
  const afterBody = async (x: Exchange, m: RouteMatch<RouteHandler>, body: unknown): Promise<void> => {
    try {
      if (x.model !== undefined) core.checkModel(x.model, x.version);
      await m.handler(x, body);
    } catch (err) {
      fail(x, err);
    }
  };

  // One function for every body read (readBody's callback form: no closure per request).
  const bodyRead = (x: Exchange, err: SidecarError | undefined, body: unknown): void => {
    if (err) fail(x, err);
    else void afterBody(x, x.match as RouteMatch<RouteHandler>, body);
  };

  /** The body (when the method has one), then afterBody. */
  const withBody = (x: Exchange, m: RouteMatch<RouteHandler>): void => {
    if (!hasBody(x.method)) {
      void afterBody(x, m, undefined);
      return;
    }
    x.match = m;
    // An HTTP/1.1 client that sent Expect waits for this before it sends the body (node answers
    // any expectation but 100-continue with 417; HTTP/1.0 has no 100 Continue).
    if (x.req.headers.expect !== undefined && x.req.httpVersionMinor === 1 && x.req.httpVersionMajor === 1) x.res.writeContinue();
    readBody(x.req, o.bodyLimitBytes, x, bodyRead, pending);
  };

  // After an authorization that had to wait (a token's first verification): one function for
  // every such call, the exchange and route kept on the exchange.
  const authorized = (x: Exchange): void => withBody(x, x.match as RouteMatch<RouteHandler>);

  /**
   * Guarded and POST routes: shed, then authn/authz/rate limit from the headers alone (the
   * token is a header: a caller without a valid one is refused before a byte of its body is
   * buffered or parsed), then the body, then afterBody.
   */
  const guarded = (x: Exchange, m: RouteMatch<RouteHandler>): void => {
    if (INFERENCE_ROUTES.has(m.route.path)) o.refuseWhenFull();
    if (m.route.access === 'policy') {
      const socket = x.req.socket;
      const waiting = core.authorize(x.call, m.route.path, headerValue(x.req.headers.authorization), socket, socket.remoteAddress);
      if (waiting) {
        x.match = m;
        waiting.then(
          () => authorized(x),
          (err: unknown) => fail(x, err),
        );
        return;
      }
    }
    withBody(x, m);
  };

  const handler: RequestListener = (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const call = core.open(method, path, req.headers, req.socket.remoteAddress);
    call.serviceAtAnswer = true;
    const x: Exchange = { req, res, call, method, extra: undefined, model: undefined, version: undefined, match: undefined };
    (res as WithExchange)[EXCHANGE] = x;
    res.on('close', onClose);
    try {
      const origin = headerValue(req.headers.origin);
      if (origin !== undefined) {
        x.extra = corsHeaders(origin, o.config().cors.allowedOrigins);
        if (method === 'OPTIONS') return sendEmpty(x, 204, PREFLIGHT_HEADERS);
      }
      const m = router.match(method, path);
      if (!m) {
        const allowed = method === 'OPTIONS' ? router.allowed(path) : [];
        if (allowed.length > 0) return sendEmpty(x, 204, ['Allow', [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ')]);
        throw new SidecarError('not_found', 'no such endpoint');
      }
      call.route = m.label;
      x.model = m.model;
      x.version = m.version;
      if (m.route.access === 'policy' || method === 'POST') {
        guarded(x, m);
        return;
      }
      if (x.model !== undefined) core.checkModel(x.model, x.version);
      const p = m.handler(x, undefined);
      if (p) p.catch((err: unknown) => fail(x, err));
    } catch (err) {
      fail(x, err);
    }
  };

  return { handler, router, bodies: pending };
}
