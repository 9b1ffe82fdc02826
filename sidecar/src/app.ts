// The sidecar application: every dependency injected (createApp), no globals. The request
// path runs in DESIGN section 4's order:
//   request id + W3C trace context + dyeing headers -> CORS allow-list -> body limit ->
//   authn (JWT) -> authz (path -> domain) -> rate limit -> model allow-list ->
//   degradation tree -> circuit breaker (group-aware) -> predictor ->
//   metrics, matrix, span, access log, audit record.
// TLS (and mTLS) is the server's job (server.ts), in front of all of this.

import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Context, type Span, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { BreakerState, Device, PodReport, ServingMode } from '../../crds/src/types.js';
import type { AuditEvent } from './audit.js';
import { TokenVerifier, type Principal } from './auth.js';
import { GroupBreakers, type ProbeResult, type TestGroup } from './breaker.js';
import { type Clock, systemClock } from './clock.js';
import type { SidecarConfig } from './config.js';
import { computeServingMode, type ResourceSample, type ResourceSampler } from './degradation.js';
import { describeCause, SidecarError } from './errors.js';
import { decryptInput, encryptInput } from './input-crypto.js';
import type { Logger, SidecarLoggers } from './logging.js';
import { ObservationMatrix, seqLenBucket, seqLenBucketLabel } from './matrix.js';
import { BREAKER_STATE_VALUE, createMetrics, type SidecarMetrics } from './metrics.js';
import { buildBinaryInferResponse, parseInferRequest, sequenceLength, tensorMetadata } from './oip.js';
import { modelConfig } from './model-config.js';
import type { CallCore } from './call-core.js';
import { buildPodReport } from './pod-report.js';
import { buildProbeInputs, type GpuTelemetryLike, type PredictorLike, type Tensor, type TensorInfo } from './predictor.js';
import { SampleRing } from './quantiles.js';
import { RateLimiter } from './rate-limiter.js';
import { extractTraceContext, startChildSpan, traceparentOf, tracerRecords } from './tracing.js';
import { watchFiles, type FileWatchHandle } from './file-watch.js';
import { binaryTailOf, jsonBody, readJsonBody } from './json-body.js';
import { assignGroup, groupFromHeader } from './canary.js';
import { policyTable } from './routes/policy.js';
import { Admission } from './pipeline/admission.js';
import { ResponseEncoder, type EncoderOptions } from './pipeline/encode.js';
import { RunQueue, type QueueLimits } from './pipeline/queue.js';
import { batchable, DynamicBatcher, type BatchingConfig } from './batcher.js';
import { registerQueueMetrics } from './pipeline/queue-metrics.js';
import { releaseMemorySoon } from './pipeline/release.js';
import { phaseDurations, type PhaseMarks } from './pipeline/phases.js';
import { shapeKey } from './pipeline/service-times.js';

export const SIDECAR_NAME = 'paddle-sidecar';
export const SIDECAR_VERSION = '0.1.0';
export const MODEL_VERSION = '1';
/** The OIP / Triton protocol extensions this server implements (server metadata, REST and gRPC). */
export const SERVER_EXTENSIONS = ['binary_tensor_data', 'model_configuration'];

/** Where audit events go (the AuditShipper in production; anything with `record` in tests). */
export interface AuditSink {
  record(e: AuditEvent): number;
}

export interface AppDeps {
  config: SidecarConfig;
  predictor: PredictorLike;
  /** A CPU predictor for the degradation tree's CPU fallback (GPU pods); absent on CPU pods. */
  cpuPredictor?: PredictorLike;
  registry: Registry;
  loggers: SidecarLoggers;
  tracer: Tracer;
  device: Device;
  /** The verified model directory, for /v1/export_model. */
  modelDir?: string;
  /** AES-256-GCM key for /v1/encrypt_input (a getter so a rotated key file is picked up). */
  encryptionKey?: () => Buffer | undefined;
  audit?: AuditSink;
  resourceSampler?: ResourceSampler;
  gpuTelemetry?: () => GpuTelemetryLike;
  clock?: Clock;
  random?: () => number;
  bodyLimitBytes?: number;
  rateLimiterMaxKeys?: number;
  /** The model was loaded with signature checking explicitly off (requireSignature=false). */
  allowUnverified?: boolean;
  /** Re-read the JWKS / HMAC files when they change (default true once started). */
  watchKeyFiles?: boolean;
  /** Poll interval of the key-file watcher (ms), a fallback for file systems without inotify. */
  keyPollMs?: number;
  /**
   * Bytes one run may need (workspace + response), admission's budget; 0 or absent: no memory
   * admission. main.ts: maxMemoryMB less what the loaded process already holds.
   */
  memoryBudgetBytes?: number;
  /** queue.maxInFlight when the config leaves it out (main.ts: the predictor's CPU threads). */
  defaultMaxInFlight?: number;
  /** Response encoding: inline below this many output elements, else on a worker thread. */
  encoder?: EncoderOptions;
}

interface RequestState {
  requestId: string;
  traceId: string;
  spanId: string;
  span: Span;
  /** The incoming trace context; with the server span, the parent of child spans (startChildSpan). */
  parent: Context;
  /** Created on first use (most requests only write the access line, through the root logger). */
  logger?: Logger;
  envId: string;
  group: TestGroup;
  /** The group came from canary.treatmentPercent (no X-Test-Group header), not from the caller. */
  groupAssigned: boolean;
  /** Route pattern for metrics and the access log (set by the route that matched). */
  route?: string;
  principal?: Principal;
  policyPath?: string;
  domain?: string;
  started: bigint;
  /** The HTTP response (REST front end); absent for other front ends (gRPC). */
  res?: ServerResponse;
  failureReason?: string;
  /** The connection closed before the response was complete (set by the close hook). */
  clientClosed?: boolean;
  /** Set once the request reached the predictor: labels of the duration histogram. */
  inference?: { device: Device; seqLenBucket: string };
  /** Inference phases (pipeline/phases.ts), for the access line. */
  phases?: PhaseMarks;
  /**
   * The dispatcher's requests: the request id, trace and dyeing headers are not set on the
   * response yet; sendJson writes them with the status in one writeHead (see requestHeaders).
   */
  headersDeferred?: boolean;
}

/** Answers this large (bytes or characters) are followed by a full collection (pipeline/release.ts). */
const LARGE_ANSWER_BYTES = 8 * 1024 * 1024;

/** The status recorded for a request whose client went away before the answer was sent (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

const PUBLIC_HEADERS = 'X-Request-Id, X-Env-Id, X-Test-Group, traceparent, tracestate, Retry-After';
const ALLOWED_REQUEST_HEADERS = 'Authorization, Content-Type, X-Request-Id, X-Env-Id, X-Test-Group, traceparent, tracestate';
// Route labels (metrics, access log) and the policy path that guards OIP inference.
const INFER_ROUTE = '/v2/models/:name/infer';
const INFER_POLICY = '/v2/models/{model}/infer';
const PREDICT_ROUTE = '/v1/predict';
/** The canonical OIP infer paths the dispatcher takes (anything else goes to express). */
const FAST_INFER_RE = /^\/v2\/models\/([^/%]+)(?:\/versions\/([^/%]+))?\/infer$/;
const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
const ENV_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

function requestLog(st: RequestState, loggers: SidecarLoggers): Logger {
  st.logger ??= loggers.forRequest(st.traceId, st.spanId);
  return st.logger;
}

// The per-request state lives on the response object itself (express's `res` is the same
// ServerResponse), so the chain steps below work on plain node:http objects.
const STATE = Symbol('paddle.sidecar.request');
type StatefulResponse = ServerResponse & { [STATE]?: RequestState };

function state(res: ServerResponse): RequestState {
  const st = (res as StatefulResponse)[STATE];
  if (!st) throw new Error('request state missing: begin() did not run');
  return st;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The headers every answer carries (request id, traceparent and tracestate, X-Env-Id when set,
 * X-Test-Group), as name/value pairs in the order they are set on the response.
 */
function requestHeaders(st: RequestState): string[] {
  const sc = st.span.spanContext();
  const h = ['X-Request-Id', st.requestId, 'traceparent', traceparentOf(sc)];
  const ts = sc.traceState?.serialize();
  if (ts) h.push('tracestate', ts);
  if (st.envId) h.push('X-Env-Id', st.envId);
  h.push('X-Test-Group', st.group);
  return h;
}

/** Sets name/value pairs on the response one by one (the express path, and any other writer). */
function setHeaders(res: ServerResponse, h: string[]): void {
  for (let i = 0; i < h.length; i += 2) res.setHeader(h[i] as string, h[i + 1] as string);
}

/** A dispatcher request's deferred `requestHeaders`, handed out once; undefined when there are none left to write. */
function takeDeferredHeaders(res: ServerResponse): string[] | undefined {
  const st = (res as StatefulResponse)[STATE];
  if (!st?.headersDeferred || res.headersSent) return undefined;
  st.headersDeferred = false;
  return requestHeaders(st);
}

/**
 * Writes a JSON response with express's res.json content type and bytes. For a dispatcher
 * request whose headers were deferred, the status, those headers, the content type and length
 * go to node in one writeHead (node's cheapest path: no per-header bookkeeping when nothing
 * was set before; anything set before, such as CORS or Retry-After, is merged by node).
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendJsonText(res, status, JSON.stringify(body));
}

/** sendJson for a body already encoded (text, or bytes from the encode pool). */
export function sendJsonText(res: ServerResponse, status: number, text: string | Buffer): void {
  const h = takeDeferredHeaders(res);
  if (h) {
    h.push('Content-Type', JSON_TYPE, 'Content-Length', String(typeof text === 'string' ? Buffer.byteLength(text) : text.length));
    res.writeHead(status, h);
    res.end(text);
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', JSON_TYPE);
  res.end(text);
}

/**
 * Writes a binary tensor extension answer (200): the JSON header, then the raw output bytes;
 * `Inference-Header-Content-Length` says where the header ends.
 */
export function sendBinaryInfer(res: ServerResponse, header: string, chunks: Buffer[]): void {
  const head = Buffer.from(header, 'utf8');
  const body = chunks.length === 0 ? head : Buffer.concat([head, ...chunks]);
  const own = ['Content-Type', 'application/octet-stream', 'Inference-Header-Content-Length', String(head.length), 'Content-Length', String(body.length)];
  const h = takeDeferredHeaders(res);
  if (h) res.writeHead(200, h.concat(own));
  else {
    res.statusCode = 200;
    setHeaders(res, own);
  }
  res.end(body);
}

/** The route label of an express route (array routes count under their first pattern). */
function expressRoute(req: IncomingMessage): string | undefined {
  const p = (req as { route?: { path?: unknown } }).route?.path;
  if (typeof p === 'string') return p;
  if (Array.isArray(p) && typeof p[0] === 'string') return p[0];
  return undefined;
}

function sinceMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** The options of a child span nobody records (its attributes would be dropped unread). */
const CHILD_SPAN = { kind: SpanKind.INTERNAL };
/** The same for a server span of a tracer that records nothing. */
const SERVER_SPAN = { kind: SpanKind.SERVER };

/** Status codes as label strings, built once each. */
const STATUS_LABELS = new Map<number, string>();
function statusLabel(code: number): string {
  let l = STATUS_LABELS.get(code);
  if (l === undefined) {
    l = String(code);
    if (STATUS_LABELS.size < 1000) STATUS_LABELS.set(code, l);
  }
  return l;
}

/** The label of every sequence-length bucket of one edge list (index = bucket), built once per list. */
const SEQ_LEN_LABELS = new WeakMap<readonly number[], string[]>();
function seqLenLabels(edges: readonly number[]): string[] {
  let labels = SEQ_LEN_LABELS.get(edges);
  if (!labels) {
    labels = Array.from({ length: edges.length + 1 }, (_, l) => seqLenBucketLabel(l, edges));
    SEQ_LEN_LABELS.set(edges, labels);
  }
  return labels;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export interface SidecarApp {
  /** The node:http(s) request listener: hot paths on the lean dispatcher, the rest to `app`. */
  handler: RequestListener;
  /** The express app alone (every endpoint; the same chain steps as the dispatcher). */
  app: express.Express;
  /** The chain for the other front ends (gRPC): call-core.ts. */
  core: CallCore;
  /** Requests `handler` served on the dispatcher vs handed to express (tests, diagnostics). */
  dispatched: { fast: number; express: number };
  metrics: SidecarMetrics;
  breakers: GroupBreakers;
  limiter: RateLimiter;
  queue: RunQueue;
  /** Validated config swap (hot reload). Throws (and keeps the old config) when key files fail. */
  applyConfig(next: SidecarConfig): Promise<void>;
  config(): SidecarConfig;
  /** Runs one light inference; updates readiness. */
  selfCheck(): Promise<ProbeResult & { error?: string }>;
  readiness(): { ready: boolean; reason: string };
  /** The /v2/health/ready status and body (for the health port). */
  readyAnswer(): { status: number; body: unknown };
  /** Takes one resource sample now and applies the degradation tree. */
  sampleResources(): ServingMode;
  mode(): ServingMode;
  buildReport(): PodReport;
  start(): void;
  close(): void;
}

export async function createApp(deps: AppDeps): Promise<SidecarApp> {
  let config = deps.config;
  const clock = deps.clock ?? systemClock;
  const log = deps.loggers.event;
  const metrics = createMetrics(deps.registry);
  const verifier = new TokenVerifier(config.auth);
  await verifier.reload(config.auth);
  // Key files (JWKS / HMAC secret) are re-read when they change (Secret rotation), not only when
  // the config file changes; a failed read keeps the previous keys.
  let keyWatcher: FileWatchHandle | undefined;
  const watchKeyFiles = (): void => {
    keyWatcher?.close();
    keyWatcher = undefined;
    const files = [config.auth.jwksFile, config.auth.hmacSecretFile].filter((f): f is string => typeof f === 'string');
    if (!config.auth.enabled || files.length === 0 || deps.watchKeyFiles === false) return;
    keyWatcher = watchFiles(files, () => {
      verifier.reload(config.auth).then(
        () => log.info({ files }, 'token keys reloaded'),
        (err: unknown) => log.error({ files, '@error.cause': describeCause(err) }, 'token key reload failed; keeping the previous keys'),
      );
    }, { debounceMs: 100, pollMs: deps.keyPollMs ?? 2000 });
  };
  const limiter = new RateLimiter(deps.rateLimiterMaxKeys ?? 10000, clock);
  const matrix = new ObservationMatrix(config.matrix);
  const latencies = new SampleRing(10000);
  const counts = { total: 0, errors: 0 };
  const info = deps.predictor.info();
  let selfCheckPassed = false;
  let lastSelfCheckError = 'self-check has not run';
  let mode: ServingMode = 'normal';
  let lastSample: ResourceSample | undefined;
  let sampleTimer: NodeJS.Timeout | undefined;
  let selfCheckInFlight: Promise<ProbeResult & { error?: string }> | undefined;
  let lastBackgroundCheck = 0;

  const activePredictor = (): { predictor: PredictorLike; device: Device } =>
    mode === 'cpu-fallback' && deps.cpuPredictor ? { predictor: deps.cpuPredictor, device: 'cpu' } : { predictor: deps.predictor, device: deps.device };

  // A loaded model's inputs and outputs do not change: read them from the addon once per predictor.
  const ioCache = new Map<PredictorLike, { inputs: TensorInfo[]; outputs: TensorInfo[] }>();
  const io = (p: PredictorLike): { inputs: TensorInfo[]; outputs: TensorInfo[] } => {
    let c = ioCache.get(p);
    if (!c) {
      c = { inputs: p.inputs(), outputs: p.outputs() };
      ioCache.set(p, c);
    }
    return c;
  };

  // Admission (memory before work) and the bounded run queue (pipeline/): hot-reloaded limits.
  // With dynamic batching on, the queue's in-flight requests are those handed to the batcher:
  // up to maxBatchSize per run slot; the batcher runs at most maxInFlight batches at once.
  const runSlots = (c: SidecarConfig): number => c.queue.maxInFlight ?? deps.defaultMaxInFlight ?? 1;
  const queueLimits = (c: SidecarConfig): QueueLimits => ({
    maxInFlight: runSlots(c) * (batchingOf(c) ? c.batching.maxBatchSize : 1),
    maxQueued: c.queue.maxQueued,
    maxQueueTimeMs: c.queue.maxQueueTimeMs,
  });
  /** The batching settings when dynamic batching applies (on, and the model has a dynamic batch dimension). */
  const batchingOf = (c: SidecarConfig): BatchingConfig | undefined =>
    c.batching.enabled && batchable(deps.predictor.inputs())
      ? { maxBatchSize: c.batching.maxBatchSize, maxQueueDelayMicroseconds: c.batching.maxQueueDelayMicroseconds, preferredBatchSizes: c.batching.preferredBatchSizes, maxInflightBatches: runSlots(c) }
      : undefined;
  const batchers = new Map<PredictorLike, DynamicBatcher>();
  const batcherFor = (p: PredictorLike, b: BatchingConfig): DynamicBatcher => {
    let x = batchers.get(p);
    if (!x) {
      x = new DynamicBatcher((inputs) => p.run(inputs), b);
      batchers.set(p, x);
    } else x.setConfig(b);
    return x;
  };
  const budgetBytes = deps.memoryBudgetBytes ?? 0;
  const queue = new RunQueue(queueLimits(config), budgetBytes);
  registerQueueMetrics(deps.registry, queue);
  const admissions = new Map<PredictorLike, Admission>();
  const admissionFor = (p: PredictorLike): Admission => {
    let a = admissions.get(p);
    if (!a) {
      const estimate = p.estimateRunBytes ? (shapes: Record<string, readonly number[]>) => (p.estimateRunBytes as NonNullable<PredictorLike['estimateRunBytes']>).call(p, shapes) : undefined;
      a = new Admission(budgetBytes, io(p).outputs, estimate);
      admissions.set(p, a);
    }
    return a;
  };
  const encoder = new ResponseEncoder(deps.encoder);

  const selfCheck = (): Promise<ProbeResult & { error?: string }> => {
    if (selfCheckInFlight) return selfCheckInFlight;
    const run = async (): Promise<ProbeResult & { error?: string }> => {
      const started = process.hrtime.bigint();
      const { predictor } = activePredictor();
      try {
        const out = await predictor.run(buildProbeInputs(predictor.inputs()));
        const expected = predictor.outputs().map((o) => o.name);
        const missing = expected.filter((n) => !(n in out));
        if (missing.length > 0) throw new Error(`self-check output lacks ${missing.join(', ')}`);
        for (const [name, t] of Object.entries(out)) {
          if (t.data instanceof Float32Array && t.data.some((v) => !Number.isFinite(v))) throw new Error(`self-check output ${name} is not finite`);
        }
        selfCheckPassed = true;
        lastSelfCheckError = '';
        return { ok: true, latencyMs: sinceMs(started) };
      } catch (err) {
        selfCheckPassed = false;
        lastSelfCheckError = describeCause(err);
        log.error({ '@error.cause': lastSelfCheckError }, 'self-check inference failed');
        return { ok: false, latencyMs: sinceMs(started), error: lastSelfCheckError };
      } finally {
        metrics.modelReady.set(readiness().ready ? 1 : 0);
      }
    };
    selfCheckInFlight = run().finally(() => {
      selfCheckInFlight = undefined;
    });
    return selfCheckInFlight;
  };

  const breakers = new GroupBreakers({
    config: config.breaker,
    clock,
    ...(deps.random ? { random: deps.random } : {}),
    probe: async () => selfCheck(),
    onStateChange: (group, s, reason) => {
      metrics.breakerState.set({ group }, BREAKER_STATE_VALUE[s]);
      if (s === 'open') metrics.breakerTrips.inc({ group });
      const level = s === 'open' ? 'warn' : 'info';
      log[level]({ group, state: s, reason }, 'circuit breaker state changed');
      metrics.modelReady.set(readiness().ready ? 1 : 0);
    },
  });
  metrics.breakerState.set({ group: 'control' }, 0);
  metrics.breakerState.set({ group: 'treatment' }, 0);

  function readiness(): { ready: boolean; reason: string } {
    if (!info.verified && !deps.allowUnverified) return { ready: false, reason: 'model signature not verified' };
    if (!selfCheckPassed) return { ready: false, reason: `self-check failed: ${lastSelfCheckError}` };
    if (breakers.control.state !== 'closed') return { ready: false, reason: `circuit breaker ${breakers.control.state}` };
    return { ready: true, reason: 'model loaded, verified and self-checked' };
  }

  const setModeGauge = (m: ServingMode): void => {
    for (const x of ['normal', 'cpu-fallback', 'shed'] as const) metrics.servingMode.set({ mode: x }, x === m ? 1 : 0);
  };
  setModeGauge(mode);

  const sampleResources = (): ServingMode => {
    if (!deps.resourceSampler) return mode;
    const s = deps.resourceSampler();
    lastSample = s;
    metrics.cpuUtilization.set(s.cpu);
    if (s.gpuMemoryUsedBytes !== undefined) metrics.gpuMemoryUsed.set(s.gpuMemoryUsedBytes);
    if (s.gpuMemoryTotalBytes !== undefined) metrics.gpuMemoryTotal.set(s.gpuMemoryTotalBytes);
    let next = computeServingMode(s, config.degradation);
    // Without a CPU predictor (a CPU pod) the fallback is the normal path already.
    if (next === 'cpu-fallback' && !deps.cpuPredictor && deps.device === 'cpu') next = 'normal';
    if (next !== mode) {
      log.warn({ from: mode, to: next, cpu: s.cpu, gpu: s.gpu ?? null }, 'serving mode changed');
      mode = next;
      setModeGauge(mode);
    }
    return mode;
  };

  // Default-deny: the config loader refused any config that leaves a protected route without
  // its policy, so a missing one here is a bug and answers 403 rather than serving unguarded.
  let policies = policyTable(config.auth.policies);

  const recordAudit = (res: ServerResponse, action: string, answered: number, why?: string): void => auditCall(state(res), action, answered, why);
  const auditCall = (st: RequestState, action: string, answered: number, why?: string): void => {
    // Allowed and computed, but the client had gone: the record says the answer was not delivered.
    const gone = answered < 400 && st.clientClosed === true;
    const status = gone ? CLIENT_CLOSED_STATUS : answered;
    const reason = gone ? 'client_closed' : why;
    const decision = status === 401 || status === 403 || status === 429 ? 'deny' : 'allow';
    const subject = st.principal?.subject ?? '-';
    // The same event as a log line (@log.kind audit), whether or not a syslog target is set.
    const line: Record<string, unknown> = {
      trace_id: st.traceId,
      '@span.id': st.spanId,
      '@log.kind': 'audit',
      action,
      decision,
      status,
      subject,
      env_id: st.envId,
      test_group: st.group,
    };
    if (reason) line['@error.cause'] = reason;
    deps.loggers.info(line, 'audit event');
    if (!deps.audit) return;
    const event: AuditEvent = {
      action,
      outcome: status < 400 ? 'success' : 'failure',
      decision,
      subject,
      path: st.policyPath ?? '-',
      status,
      modelDigest: info.digest,
      group: st.group,
      envId: st.envId,
      traceId: st.traceId,
      requestId: st.requestId,
    };
    if (reason) event.reason = reason;
    deps.audit.record(event);
  };

  // ---- the protection chain, as plain steps over node:http objects. Both the lean dispatcher
  // (hot paths) and the express app (everything) run exactly these functions, in this order.

  // 1. request id + W3C trace context + dyeing headers; the close hook writes metrics, the
  // span end and the access log (also for a client that left before its answer: status 499).
  const begin = (req: IncomingMessage, res: ServerResponse, path: string, deferHeaders = false): RequestState => {
    const method = req.method ?? 'GET';
    const st = openCall(method, path, req.headers, req.socket.remoteAddress);
    st.res = res;
    (res as StatefulResponse)[STATE] = st;
    // The dispatcher answers through sendJson only, which writes them; express routes write
    // through res.send and friends, so they get them now.
    if (deferHeaders) st.headersDeferred = true;
    else setHeaders(res, requestHeaders(st));
    // 'close' comes once per response, after 'finish' when the answer went out, alone when the
    // connection closed first.
    res.on('close', () => finish(req, res, st, method));
    return st;
  };

  /** Request id, trace context and dyeing of one call, from any front end's headers (lower-case names). */
  const openCall = (method: string, path: string, headers: IncomingMessage['headers'], remoteAddress: string | undefined): RequestState => {
    const started = process.hrtime.bigint();
    const incomingId = headerValue(headers['x-request-id']);
    const requestId = incomingId && REQUEST_ID_RE.test(incomingId) ? incomingId : randomUUID();
    const parent = extractTraceContext(headers);
    const envHeader = headerValue(headers['x-env-id']);
    const envId = envHeader && ENV_ID_RE.test(envHeader) ? envHeader : (config.canary.envId ?? '');
    const explicit = groupFromHeader(headerValue(headers['x-test-group']));
    // Without a header: a provisional assignment by client address; authorize() re-assigns by
    // the verified token subject once there is one.
    const percent = config.canary.treatmentPercent;
    const group: TestGroup = explicit ?? (percent ? assignGroup(`ip:${remoteAddress ?? 'unknown'}`, percent) : 'control');
    const span = tracerRecords(deps.tracer)
      ? deps.tracer.startSpan(`${method} ${path.startsWith('/v2/models/') ? '/v2/models/{model}' : path}`, {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': method,
            'url.path': path,
            'model.name': config.model.name,
            'request.id': requestId,
            'paddle.env_id': envId,
            'paddle.test_group': group,
          },
        }, parent)
      : deps.tracer.startSpan('', SERVER_SPAN, parent);
    const sc = span.spanContext();
    const st: RequestState = {
      requestId,
      traceId: sc.traceId,
      spanId: sc.spanId,
      span,
      parent,
      envId,
      group,
      groupAssigned: explicit === undefined,
      started,
    };
    return st;
  };

  const finish = (req: IncomingMessage, res: ServerResponse, st: RequestState, method: string): void => {
    const answered = res.writableFinished;
    st.clientClosed = !answered;
    if (!answered) st.failureReason ??= `client_closed: the connection closed before the response was ${res.headersSent ? 'complete' : 'sent'}`;
    const code = answered ? res.statusCode : CLIENT_CLOSED_STATUS;
    closeCall(st, code, st.route ?? expressRoute(req) ?? 'unmatched', method);
  };

  /** Ends a call of any front end: span, request metrics, access line. `code` is HTTP-style (gRPC maps to it). */
  const closeCall = (st: RequestState, code: number, route: string, method: string): void => {
    const span = st.span;
    span.setAttribute('http.response.status_code', code);
    if (code >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: st.failureReason ?? `HTTP ${code}` });
    span.end();
    const model = config.model.name;
    const codeLabel = statusLabel(code);
    metrics.requests.labels(model, route, codeLabel).inc();
    const ms = sinceMs(st.started);
    if (st.inference) {
      // Arrival to response, for every request that reached the predictor (any outcome).
      metrics.requestDuration.labels(model, st.inference.device, codeLabel, st.inference.seqLenBucket).observe(ms / 1000);
    }
    const line: Record<string, unknown> = {
      trace_id: st.traceId,
      '@span.id': st.spanId,
      '@log.kind': 'access',
      method,
      path: route,
      status: code,
      duration_ms: Math.round(ms * 1000) / 1000,
      request_id: st.requestId,
      env_id: st.envId,
      test_group: st.group,
    };
    if (st.principal) line.subject = st.principal.subject;
    if (st.failureReason) line['@error.cause'] = st.failureReason;
    if (st.phases) line.phases_ms = phaseDurations(st.phases, ms);
    deps.loggers.info(line, 'request served');
  };

  // 2. CORS allow-list (never "*"). Returns false when the response is complete (preflight).
  const cors = (req: IncomingMessage, res: ServerResponse): boolean => {
    const origin = headerValue(req.headers.origin);
    if (origin === undefined) return true;
    if (!config.cors.allowedOrigins.includes(origin)) throw new SidecarError('origin_not_allowed', 'origin not allowed');
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', PUBLIC_HEADERS);
    if (req.method === 'OPTIONS') {
      const deferred = takeDeferredHeaders(res);
      if (deferred) setHeaders(res, deferred);
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_REQUEST_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.statusCode = 204;
      res.end();
      return false;
    }
    return true;
  };

  // 3. body limit + JSON parsing: readJsonBody (json-body.ts), POST/PUT/PATCH only.
  const bodyLimit = deps.bodyLimitBytes ?? 1024 * 1024;

  // 4-6. authn -> authz -> rate limit, for the paths with a policy. Synchronous when the token
  // was verified before (the usual case); a promise only when its signature must be checked.
  const authorize = (req: IncomingMessage, st: RequestState, policyPath: string): void | Promise<void> =>
    authorizeCall(st, policyPath, headerValue(req.headers.authorization), req.socket, req.socket.remoteAddress);
  /** `connection`: an object that lives as long as the caller's connection (token cache per connection). */
  const authorizeCall = (st: RequestState, policyPath: string, header: string | undefined, connection: object | undefined, remoteAddress: string | undefined): void | Promise<void> => {
    st.policyPath = policyPath;
    const policy = policies.get(policyPath);
    if (!policy) throw new SidecarError('forbidden', `no policy guards ${policyPath}: refused (default-deny)`);
    st.domain = policy.domain;
    if (config.auth.enabled) {
      const known = verifier.cached(header, connection);
      if (known) return admit(st, policy, known);
      return verifier.verify(header).then((p) => admit(st, policy, p));
    }
    return admit(st, policy, { subject: `ip:${remoteAddress ?? 'unknown'}`, domains: new Set([policy.domain]) });
  };

  const admit = (st: RequestState, policy: SidecarConfig['auth']['policies'][number], principal: Principal): void => {
    st.principal = principal;
    if (config.auth.enabled && !principal.domains.has(policy.domain)) {
      throw new SidecarError('forbidden', 'insufficient permissions');
    }
    const decision = limiter.take(principal.subject, policy.domain, policy.callsPerMinute * (config.auth.rateShare ?? 1));
    if (!decision.ok) {
      metrics.rateLimited.labels(policy.domain).inc();
      throw new SidecarError('rate_limited', `rate limit of ${policy.callsPerMinute} calls per minute exceeded for ${policy.domain}`, {
        retryAfterSeconds: decision.retryAfterSeconds,
      });
    }
    if (st.span.isRecording()) st.span.setAttributes({ 'enduser.id': principal.subject, 'paddle.domain': policy.domain });
    // Canary: a caller without an X-Test-Group header is bucketed by its (verified) subject.
    if (st.groupAssigned) setGroup(st, assignGroup(principal.subject, config.canary.treatmentPercent));
  };

  const setGroup = (st: RequestState, group: TestGroup): void => {
    if (group === st.group) return;
    st.group = group;
    st.span.setAttribute('paddle.test_group', group);
    const res = st.res;
    if (res && !res.headersSent && !st.headersDeferred) res.setHeader('X-Test-Group', group);
  };

  // 7. model allow-list: only the configured name (and version "1" where the OIP path names a
  // version); nothing from the request reaches the disk.
  const checkModel = (name: unknown, version: unknown): void => {
    if (name !== config.model.name) {
      throw new SidecarError('model_not_found', `model ${JSON.stringify(String(name).slice(0, 64))} is not served here`);
    }
    if (version !== undefined && version !== MODEL_VERSION) {
      throw new SidecarError('model_not_found', `model ${config.model.name} has no version ${JSON.stringify(String(version).slice(0, 32))}`);
    }
  };

  // The one error handler (express's error middleware and the dispatcher both call it).
  const fail = (err: unknown, res: ServerResponse): void => {
    const e = noteFailure((res as StatefulResponse)[STATE], err);
    if (res.headersSent) {
      res.destroy(e);
      return;
    }
    if (e.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(e.retryAfterSeconds));
    sendJson(res, e.httpStatus, { error: e.message });
  };

  /** The failure bookkeeping of every front end: cause on the call, 5xx event line, audit record, failure count. */
  const noteFailure = (st: RequestState | undefined, err: unknown): SidecarError => {
    const e = toSidecarError(err);
    if (st) {
      st.failureReason = `${e.code}: ${describeCause(e.cause ?? e)}`;
      if (e.httpStatus >= 500) requestLog(st, deps.loggers).error({ '@log.kind': 'event', code: e.code, '@error.cause': describeCause(e) }, 'request failed');
      if (st.policyPath) auditCall(st, st.policyPath.replace(/^\/v[12]\//, '').replace(/\W+/g, '_'), e.httpStatus, e.code);
    }
    if (e.httpStatus >= 400 && e.code !== 'inference_failed') metrics.failures.labels(config.model.name, e.code).inc();
    return e;
  };

  // 8-10. degradation tree -> breaker -> predictor, with metrics/matrix/span.
  const runInference = async (st: RequestState, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> => {
    const { predictor, device } = activePredictor();
    // Admission before any work: a run whose memory need is above the budget is the request's
    // problem (422), refused before it waits or runs.
    const bytes = admissionFor(predictor).admit(inputs);
    if (mode === 'shed') {
      metrics.shed.inc();
      throw new SidecarError('shed', 'server is shedding load', { retryAfterSeconds: config.degradation.retryAfterSeconds });
    }
    const breaker = breakers.for(st.group);
    const admission = breaker.admit();
    if (!admission.ok) {
      throw new SidecarError('breaker_open', 'circuit breaker is open', { retryAfterSeconds: admission.retryAfterSeconds });
    }
    // The bounded queue: a slot now, or wait (bounded in count and by the answer's deadline), or 503.
    const phases: PhaseMarks = (st.phases = { queued: sinceMs(st.started) });
    const key = shapeKey(inputs);
    if (!queue.tryEnter(bytes)) await queue.enter(bytes, phases.queued, key);
    phases.started = sinceMs(st.started);
    const seqLen = sequenceLength(inputs);
    const lBucket = seqLenLabels(config.matrix.seqLenEdges)[seqLenBucket(seqLen, config.matrix.seqLenEdges)] ?? 'all';
    const child = startChildSpan(
      deps.tracer,
      'predictor.run',
      st.span.isRecording() ? { kind: SpanKind.INTERNAL, attributes: { 'model.name': config.model.name, 'paddle.device': device, 'paddle.seq_len': seqLen } } : CHILD_SPAN,
      st.parent,
      st.span,
    );
    metrics.inflight.inc();
    const started = process.hrtime.bigint();
    st.inference = { device, seqLenBucket: lBucket };
    try {
      const batching = batchingOf(config);
      let out: Record<string, Tensor>;
      if (batching) {
        const r = await batcherFor(predictor, batching).submit(inputs);
        out = r.outputs;
        if (child.isRecording()) child.setAttributes({ 'paddle.batch.rows': r.batchRows, 'paddle.batch.requests': r.batchRequests });
      } else out = await predictor.run(inputs);
      const ms = sinceMs(started);
      phases.ran = sinceMs(st.started);
      // The queue's service time for this shape: to the answer's last byte where there is one.
      if (st.res) st.res.once('finish', () => queue.observe(key, sinceMs(started)));
      else queue.observe(key, ms);
      breaker.record(ms, true);
      latencies.push(ms);
      matrix.add(gpuProcessMemory(), ms, seqLen);
      return out;
    } catch (err) {
      const ms = sinceMs(started);
      const name = err instanceof Error ? err.name : '';
      // Client errors never count toward the breaker: the input was refused, the model is fine.
      if (name === 'ShapeError' || name === 'TypeError' || name === 'RangeError') {
        throw new SidecarError('bad_request', `input rejected by the model: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (name === 'MemoryLimitError') {
        throw new SidecarError('over_budget', `this request needs more memory than the predictor may use: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      breaker.record(ms, false);
      counts.errors++;
      metrics.failures.labels(config.model.name, 'predictor').inc();
      child.recordException(err as Error);
      child.setStatus({ code: SpanStatusCode.ERROR, message: describeCause(err) });
      backgroundSelfCheck();
      throw new SidecarError('inference_failed', 'inference failed', { cause: err });
    } finally {
      queue.leave(bytes);
      metrics.inflight.dec();
      counts.total++;
      child.end();
    }
  };

  const gpuProcessMemory = (): number => {
    if (!deps.gpuTelemetry || deps.device !== 'gpu') return 0;
    const t = deps.gpuTelemetry();
    return t.available ? t.processMemoryBytes : 0;
  };

  const backgroundSelfCheck = (): void => {
    const now = clock.now();
    if (now - lastBackgroundCheck < 1000) return;
    lastBackgroundCheck = now;
    void selfCheck();
  };


  // ---- route handlers (shared by the dispatcher and express)
  const liveRoute = (res: ServerResponse): void => {
    sendJson(res, 200, { live: true });
  };
  /** The /v2/health/ready answer (the serving port and the health port's worker give the same). */
  const readyAnswer = (): { status: number; body: unknown } => {
    const r = readiness();
    const details = {
      ready: r.ready,
      model: config.model.name,
      verified: info.verified,
      selfCheckPassed,
      mode,
      device: activePredictor().device,
      breaker: { control: breakers.control.state, treatment: breakers.treatment.state },
    };
    return r.ready ? { status: 200, body: details } : { status: 503, body: { error: `not ready: ${r.reason}`, ...details } };
  };
  const readyRoute = (res: ServerResponse): void => {
    const a = readyAnswer();
    sendJson(res, a.status, a.body);
  };
  const healthzRoute = async (res: ServerResponse): Promise<void> => {
    const r = await selfCheck();
    if (r.ok) sendJson(res, 200, { status: 'ok', latencyMs: Math.round(r.latencyMs * 1000) / 1000 });
    else sendJson(res, 503, { error: `self-check failed: ${r.error ?? 'unknown'}` });
  };

  /** Parses, runs and answers one inference; its audit record names `action`. */
  const inferFromBody = async (res: ServerResponse, body: unknown, action: string): Promise<void> => {
    const model = io(activePredictor().predictor);
    const parsed = parseInferRequest(body, model.inputs, model.outputs, binaryTailOf(body));
    const outputs = await runInference(state(res), parsed.inputs);
    if (parsed.binaryOutputs) {
      const r = buildBinaryInferResponse(config.model.name, MODEL_VERSION, parsed.id, outputs, parsed.outputs, parsed.binaryOutputs);
      sendBinaryInfer(res, r.header, r.chunks);
    } else {
      const encoded = encoder.encode(config.model.name, MODEL_VERSION, parsed.id, outputs, parsed.outputs);
      const text = typeof encoded === 'string' ? encoded : await encoded;
      const st = state(res);
      if (st.phases) st.phases.encoded = sinceMs(st.started);
      sendJsonText(res, 200, text);
      if (text.length >= LARGE_ANSWER_BYTES) releaseMemorySoon();
    }
    recordAudit(res, action, 200);
  };
  const inferRoute = (res: ServerResponse, body: unknown): Promise<void> => inferFromBody(res, body, 'infer');
  const predictRoute = async (res: ServerResponse, input: unknown): Promise<void> => {
    let body = input;
    if (typeof body === 'object' && body !== null && 'model_name' in body && (body as { model_name: unknown }).model_name !== config.model.name) {
      throw new SidecarError('model_not_found', 'model_name is not the model served here');
    }
    if (typeof body === 'object' && body !== null && 'encrypted_input' in body) {
      const key = deps.encryptionKey?.();
      if (!key) throw new SidecarError('not_configured', 'input encryption is not configured');
      const plain = decryptInput(key, config.model.name, (body as { encrypted_input: unknown }).encrypted_input);
      try {
        body = JSON.parse(plain.toString('utf8'));
      } catch (err) {
        throw new SidecarError('malformed_json', 'decrypted input is not valid JSON', { cause: err });
      }
    }
    await inferFromBody(res, body, 'predict');
  };

  // ---- the chain for front ends other than REST (gRPC): the same steps, without node:http objects.
  const core: CallCore = {
    open: openCall,
    close: (call, status, route, method) => closeCall(call as RequestState, status, route, method),
    authorize: (call, policyPath, header, connection, remoteAddress) => authorizeCall(call as RequestState, policyPath, header, connection, remoteAddress),
    checkModel,
    io: () => io(activePredictor().predictor),
    run: (call, inputs) => runInference(call as RequestState, inputs),
    audit: (call, action, status, reason) => auditCall(call as RequestState, action, status, reason),
    fail: (call, err) => noteFailure(call as RequestState | undefined, err),
    traceparent: (call) => traceparentOf((call as RequestState).span.spanContext()),
    readiness,
    serverMetadata: () => ({ name: SIDECAR_NAME, version: SIDECAR_VERSION, extensions: SERVER_EXTENSIONS }),
    modelMetadata: () => {
      const m = io(activePredictor().predictor);
      return { name: config.model.name, versions: [MODEL_VERSION], platform: `paddle_${info.format}`, inputs: tensorMetadata(m.inputs), outputs: tensorMetadata(m.outputs) };
    },
    modelConfig: () => {
      const m = io(activePredictor().predictor);
      const b = batchingOf(config);
      return modelConfig(config.model.name, info.format, m.inputs, m.outputs, b && { maxBatchSize: b.maxBatchSize, maxQueueDelayMicroseconds: b.maxQueueDelayMicroseconds, preferredBatchSizes: b.preferredBatchSizes });
    },
    modelName: () => config.model.name,
    modelVersion: MODEL_VERSION,
  };

  // ---- the express app: every endpoint, the chain steps above as middleware.
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    begin(req, res, req.path);
    if (cors(req, res)) next();
  });
  app.use(jsonBody(bodyLimit));
  const protect =
    (policyPath: string) =>
    (req: Request, res: Response, next: NextFunction): void => {
      Promise.resolve()
        .then(() => authorize(req, state(res), policyPath))
        .then(() => next(), (err: unknown) => next(err));
    };
  const modelParams = (req: Request, _res: Response, next: NextFunction): void => {
    checkModel(req.params.name, req.params.version);
    next();
  };

  // ---- routes: health and metadata (public)
  app.get('/v2/health/live', (_req, res) => liveRoute(res));
  app.get('/v2/health/ready', (_req, res) => readyRoute(res));
  app.get('/v2', (_req, res) => {
    sendJson(res, 200, core.serverMetadata());
  });
  app.get(['/v2/models/:name', '/v2/models/:name/versions/:version'], modelParams, (_req, res) => {
    sendJson(res, 200, core.modelMetadata());
  });
  app.get(['/v2/models/:name/config', '/v2/models/:name/versions/:version/config'], modelParams, (_req, res) => {
    sendJson(res, 200, core.modelConfig());
  });
  app.get(['/v2/models/:name/ready', '/v2/models/:name/versions/:version/ready'], modelParams, (_req, res) => {
    const r = readiness();
    if (r.ready) sendJson(res, 200, { name: config.model.name, ready: true });
    else sendJson(res, 503, { error: `not ready: ${r.reason}`, name: config.model.name, ready: false });
  });
  app.get('/healthz', (_req, res) => healthzRoute(res));

  // ---- inference
  app.post([INFER_ROUTE, '/v2/models/:name/versions/:version/infer'], protect(INFER_POLICY), modelParams, (req, res) => inferRoute(res, req.body));
  app.post(PREDICT_ROUTE, protect(PREDICT_ROUTE), (req, res) => predictRoute(res, req.body));

  app.post('/v1/encrypt_input', protect('/v1/encrypt_input'), (req, res) => {
    const key = deps.encryptionKey?.();
    if (!key) throw new SidecarError('not_configured', 'input encryption is not configured');
    if (typeof req.body !== 'object' || req.body === null) throw new SidecarError('bad_request', 'request body must be a JSON object or array');
    sendJson(res, 200, { encrypted_input: encryptInput(key, config.model.name, Buffer.from(JSON.stringify(req.body), 'utf8')) });
    recordAudit(res, 'encrypt_input', 200);
  });

  // Streams the verified model directory (its regular files, signature.json included) as JSON
  // with base64 contents. File names come from the directory listing, never from the request.
  const exportModel = async (_req: Request, res: Response): Promise<void> => {
    if (!deps.modelDir) throw new SidecarError('not_configured', 'model export is not configured');
    const dir = deps.modelDir;
    const names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
    const files: { name: string; size: number }[] = [];
    for (const name of names) {
      const s = await stat(join(dir, name));
      if (s.isFile()) files.push({ name, size: s.size });
    }
    if (!files.some((f) => f.name === 'signature.json') && info.verified) {
      throw new SidecarError('internal', 'model directory has no signature.json');
    }
    res.status(200).type('application/json');
    res.write(`{"model":${JSON.stringify(config.model.name)},"digest":${JSON.stringify(info.digest)},"verified":${info.verified},"files":[`);
    for (const [i, f] of files.entries()) {
      res.write(`${i === 0 ? '' : ','}{"name":${JSON.stringify(f.name)},"size":${f.size},"encoding":"base64","data":"`);
      await pipeBase64(join(dir, f.name), res);
      res.write('"}');
    }
    res.end(']}');
    recordAudit(res, 'export_model', 200);
  };
  app.get('/v1/export_model', protect('/v1/export_model'), exportModel);
  app.post('/v1/export_model', protect('/v1/export_model'), exportModel);

  // Unknown paths: 404 with the standard body (the path is never used for anything).
  app.use((_req, _res, next) => next(new SidecarError('not_found', 'no such endpoint')));

  // The one error middleware.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    fail(err, res);
  });

  // ---- the lean dispatcher: the hot paths straight on node:http, everything else to express.
  // Only canonical paths are taken here (exact case, no trailing slash, no percent-escapes in
  // the model segment); anything else (HEAD, OPTIONS, odd spellings) goes to express, which runs
  // the same steps, so a path is never treated differently by the two.
  const dispatched = { fast: 0, express: 0 };
  const handler: RequestListener = (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method;
    if (method === 'POST') {
      if (path === PREDICT_ROUTE) return void fastPost(req, res, path, PREDICT_ROUTE, PREDICT_ROUTE, undefined, undefined);
      const m = FAST_INFER_RE.exec(path);
      if (m) return void fastPost(req, res, path, INFER_ROUTE, INFER_POLICY, m[1], m[2]);
    } else if (method === 'GET') {
      if (path === '/v2/health/live') return fastGet(req, res, path, '/v2/health/live', liveRoute);
      if (path === '/v2/health/ready') return fastGet(req, res, path, '/v2/health/ready', readyRoute);
      if (path === '/healthz') return fastGet(req, res, path, '/healthz', healthzRoute);
    }
    dispatched.express++;
    app(req, res);
  };

  const fastGet = (req: IncomingMessage, res: ServerResponse, path: string, route: string, run: (res: ServerResponse) => void | Promise<void>): void => {
    dispatched.fast++;
    try {
      const st = begin(req, res, path, true);
      if (!cors(req, res)) return;
      st.route = route; // as express: app-level steps (begin, CORS) fail as 'unmatched'
      const p = run(res);
      if (p) p.catch((err: unknown) => fail(err, res));
    } catch (err) {
      fail(err, res);
    }
  };

  const fastPost = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    route: string,
    policyPath: string,
    name: string | undefined,
    version: string | undefined,
  ): Promise<void> => {
    dispatched.fast++;
    try {
      const st = begin(req, res, path, true);
      if (!cors(req, res)) return;
      st.route = route;
      // Shed before work: with the queue full, the body is not even parsed (node drains it).
      queue.refuseWhenFull();
      st.route = undefined;
      const body = await readJsonBody(req, bodyLimit);
      st.route = route; // as express: app-level steps (begin, CORS, body) fail as 'unmatched'
      const pending = authorize(req, st, policyPath);
      if (pending) await pending;
      if (route === INFER_ROUTE) {
        checkModel(name, version);
        await inferRoute(res, body);
      } else {
        await predictRoute(res, body);
      }
    } catch (err) {
      try {
        fail(err, res);
      } catch {
        res.destroy();
      }
    }
  };

  const applyConfig = async (next: SidecarConfig): Promise<void> => {
    await verifier.reload(next.auth); // throws on unreadable key files: the old config stays
    config = next;
    policies = policyTable(next.auth.policies);
    queue.setLimits(queueLimits(next));
    breakers.setConfig(next.breaker);
    matrix.setConfig(next.matrix);
    deps.loggers.setLevel(next.logLevel);
    restartSampler();
    if (started) watchKeyFiles();
  };

  const restartSampler = (): void => {
    if (sampleTimer) clearInterval(sampleTimer);
    sampleTimer = undefined;
    if (!deps.resourceSampler || !started) return;
    sampleTimer = setInterval(() => sampleResources(), config.degradation.sampleIntervalSeconds * 1000);
    sampleTimer.unref();
  };
  let started = false;

  const buildReport = (): PodReport => {
    const r = readiness();
    const gpu = lastSample?.gpuMemoryTotalBytes !== undefined
      ? { memoryUsedBytes: lastSample.gpuMemoryUsedBytes ?? 0, memoryTotalBytes: lastSample.gpuMemoryTotalBytes, ...(lastSample.gpuUtilization !== undefined ? { utilization: lastSample.gpuUtilization } : {}) }
      : undefined;
    const breakerState: BreakerState = breakers.control.state;
    return buildPodReport({
      now: new Date(clock.now()),
      ready: r.ready,
      selfCheckPassed,
      info,
      device: activePredictor().device,
      mode,
      latenciesMs: latencies.values(),
      baselineP95Ms: breakers.control.measuredBaselineP95Ms(),
      requests: { ...counts },
      matrix: matrix.toStatus(),
      stats: activePredictor().predictor.stats(),
      breaker: { state: breakerState, trips: breakers.control.trips + breakers.treatment.trips, treatmentState: breakers.treatment.state },
      ...(gpu ? { gpu } : {}),
      ...(r.ready ? {} : { message: r.reason }),
    });
  };

  await selfCheck();
  log.info({ model: config.model.name, digest: info.digest, verified: info.verified, ready: readiness().ready }, 'sidecar app created');

  return {
    handler,
    app,
    core,
    dispatched,
    metrics,
    breakers,
    limiter,
    queue,
    applyConfig,
    config: () => config,
    selfCheck,
    readiness,
    readyAnswer,
    sampleResources,
    mode: () => mode,
    buildReport,
    start: () => {
      started = true;
      breakers.start();
      watchKeyFiles();
      sampleResources();
      restartSampler();
    },
    close: () => {
      started = false;
      encoder.close();
      keyWatcher?.close();
      breakers.stop();
      if (sampleTimer) clearInterval(sampleTimer);
    },
  };
}

function toSidecarError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return new SidecarError('payload_too_large', 'request body too large', { cause: err });
  if (type === 'entity.parse.failed') return new SidecarError('malformed_json', 'malformed JSON body', { cause: err });
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new SidecarError('bad_request', 'unsupported body encoding', { cause: err });
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) return new SidecarError('bad_request', 'bad request', { cause: err, httpStatus: status });
  return new SidecarError('internal', 'internal error', { cause: err });
}

/** Writes a file's bytes as base64 to the response, streaming in 3-byte-aligned chunks. */
async function pipeBase64(path: string, res: Response): Promise<void> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 3 * 64 * 1024 })) {
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    const usable = buf.length - (buf.length % 3);
    if (!res.write(buf.subarray(0, usable).toString('base64'))) await new Promise((r) => res.once('drain', r));
    carry = buf.subarray(usable);
  }
  if (carry.length > 0) res.write(carry.toString('base64'));
}
