// Stage 1, context: request id (the caller's X-Request-Id when well formed, else a new UUID),
// W3C trace context (traceparent/tracestate in; the server span continues it), dyeing
// (X-Env-Id, X-Test-Group; without the header, a provisional canary group by client address
// that the access stage re-assigns by the verified subject). `answerHeaders` is what every
// answer echoes.

import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SpanKind, type Tracer } from '@opentelemetry/api';
import type { TestGroup } from '../breaker.js';
import { assignGroup, groupFromHeader } from '../canary.js';
import type { SidecarConfig } from '../config.js';
import { extractTraceContext, traceparentOf, tracerRecords } from '../tracing.js';
import type { Call } from './call.js';

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
const ENV_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
/** The options of a server span of a tracer that records nothing (its attributes would be dropped). */
const SERVER_SPAN = { kind: SpanKind.SERVER };

/** Every field of T present (undefined until set): the compiler checks that a new call field is not left out of `open`. */
type EveryField<T> = { [K in keyof Required<T>]: T[K] | undefined };

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export class CallContext {
  constructor(
    private readonly tracer: Tracer,
    private readonly config: () => SidecarConfig,
  ) {}

  /** Opens a call from any front end's headers (lower-case names). */
  open(method: string, path: string, headers: IncomingHttpHeaders, remoteAddress: string | undefined): Call {
    const started = process.hrtime.bigint();
    const config = this.config();
    const incomingId = headerValue(headers['x-request-id']);
    const requestId = incomingId && REQUEST_ID_RE.test(incomingId) ? incomingId : randomUUID();
    const parent = extractTraceContext(headers);
    const envHeader = headerValue(headers['x-env-id']);
    const envId = envHeader && ENV_ID_RE.test(envHeader) ? envHeader : (config.canary.envId ?? '');
    const explicit = groupFromHeader(headerValue(headers['x-test-group']));
    const percent = config.canary.treatmentPercent;
    const group: TestGroup = explicit ?? (percent ? assignGroup(`ip:${remoteAddress ?? 'unknown'}`, percent) : 'control');
    const span = tracerRecords(this.tracer)
      ? this.tracer.startSpan(
          `${method} ${path.startsWith('/v2/models/') ? '/v2/models/{model}' : path}`,
          {
            kind: SpanKind.SERVER,
            attributes: {
              'http.request.method': method,
              'url.path': path,
              'model.name': config.model.name,
              'request.id': requestId,
              'paddle.env_id': envId,
              'paddle.test_group': group,
            },
          },
          parent,
        )
      : this.tracer.startSpan('', SERVER_SPAN, parent);
    const sc = span.spanContext();
    // Every field of the call from the start (later stages fill them in): one object shape for
    // all calls, so each stage's property accesses see one shape, not one per path taken.
    return {
      requestId,
      traceId: sc.traceId,
      spanId: sc.spanId,
      span,
      parent,
      envId,
      group,
      groupAssigned: explicit === undefined,
      started,
      logger: undefined,
      route: undefined,
      principal: undefined,
      policyPath: undefined,
      domain: undefined,
      failureReason: undefined,
      clientClosed: undefined,
      abandonWait: undefined,
      inference: undefined,
      phases: undefined,
      batch: undefined,
      serviceAtAnswer: undefined,
      service: undefined,
      answerReady: undefined,
      answeringBytes: undefined,
      lineFields: undefined,
      lineFieldsGroup: undefined,
    } satisfies EveryField<Call>;
  }
}

/** The call's W3C traceparent (the server span's). */
export function traceparentOfCall(call: Call): string {
  return traceparentOf(call.span.spanContext());
}

/**
 * The headers every answer carries (request id, traceparent and tracestate, X-Env-Id when set,
 * X-Test-Group), as name/value pairs.
 */
export function answerHeaders(call: Call): string[] {
  const sc = call.span.spanContext();
  const h = ['X-Request-Id', call.requestId, 'traceparent', traceparentOf(sc)];
  const ts = sc.traceState?.serialize();
  if (ts) h.push('tracestate', ts);
  if (call.envId) h.push('X-Env-Id', call.envId);
  h.push('X-Test-Group', call.group);
  return h;
}
