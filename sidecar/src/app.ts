// The sidecar application: every dependency injected (createApp), no globals. createApp is the
// composition root: it builds the pipeline's stages (pipeline/, one module each) in DESIGN
// section 4's order,
//   context (request id, W3C trace context, dyeing) -> CORS (REST) -> body (REST) ->
//   authn -> authz -> rate limit -> model allow-list -> admission -> degradation -> breaker ->
//   run queue -> predictor (dynamic batcher) -> answer -> audit -> telemetry (metrics, matrix,
//   span, access log),
// joins them into one `CallCore`, and puts the front ends on it: REST (rest/front-end.ts, over
// the one router built from SIDECAR_ROUTES) and gRPC (grpc/server.ts, started by main.ts with
// `core`). TLS (and mTLS) is the servers' job (server.ts, grpc/server.ts).

import type { Tracer } from '@opentelemetry/api';
import type { RequestListener } from 'node:http';
import type { Registry } from 'prom-client';
import type { BreakerState, Device, PodReport, ServingMode } from '../../crds/src/types.js';
import type { GroupBreakers, ProbeResult } from './breaker.js';
import type { CallCore } from './call-core.js';
import { type Clock, systemClock } from './clock.js';
import type { SidecarConfig } from './config.js';
import type { ResourceSampler } from './degradation.js';
import type { BodyPace } from './pace.js';
import type { SidecarLoggers } from './logging.js';
import { ObservationMatrix } from './matrix.js';
import { createMetrics, type SidecarMetrics } from './metrics.js';
import { modelConfig } from './model-config.js';
import { tensorMetadata } from './oip.js';
import { Access } from './pipeline/access.js';
import { AuditRecorder, type AuditSink } from './pipeline/audit-record.js';
import { Authn } from './pipeline/authn.js';
import { Authz } from './pipeline/authz.js';
import { createBreakers } from './pipeline/breaker-gate.js';
import { CLIENT_CLOSED_STATUS, MODEL_VERSION } from './pipeline/call.js';
import { CallContext, traceparentOfCall } from './pipeline/context.js';
import { type EncoderOptions, ResponseEncoder } from './pipeline/encode.js';
import { Failures } from './pipeline/failure.js';
import { checkModel } from './pipeline/model-check.js';
import { Predict } from './pipeline/predict.js';
import type { RunQueue } from './pipeline/queue.js';
import { registerQueueMetrics } from './pipeline/queue-metrics.js';
import { RateGate } from './pipeline/rate-limit.js';
import { ServingModes } from './pipeline/serving-mode.js';
import { Telemetry } from './pipeline/telemetry.js';
import { buildPodReport } from './pod-report.js';
import type { GpuTelemetryLike, PredictorLike } from './predictor.js';
import { SampleRing } from './quantiles.js';
import { RateLimiter } from './rate-limiter.js';
import { Readiness } from './readiness.js';
import { createRestFrontEnd, type RestFrontEnd } from './rest/front-end.js';

export { CLIENT_CLOSED_STATUS, MODEL_VERSION } from './pipeline/call.js';
export type { AuditSink } from './pipeline/audit-record.js';

export const SIDECAR_NAME = 'paddle-sidecar';
export const SIDECAR_VERSION = '0.1.0';
/** The OIP / Triton protocol extensions this server implements (server metadata, REST and gRPC). */
export const SERVER_EXTENSIONS = ['binary_tensor_data', 'model_configuration'];

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
  /** How slowly a request body may arrive (json-body.ts; default 1 KiB/s over 5 s windows). */
  bodyPace?: BodyPace;
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
  /** The longest run executed on the main thread (pipeline/inline-runs.ts; default INLINE_RUN_US_DEFAULT, 0: never). */
  inlineRunMicros?: number;
  /** Response encoding: inline below this many output elements, else on a worker thread. */
  encoder?: EncoderOptions;
}

export interface SidecarApp {
  /** The node:http(s) request listener: the REST front end. */
  handler: RequestListener;
  /** The REST front end (its router serves exactly SIDECAR_ROUTES). */
  rest: RestFrontEnd;
  /** The pipeline every front end calls (the gRPC front end takes it). */
  core: CallCore;
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
  /** Not ready from now on (shutdown), while every port keeps serving. */
  drain(reason: string): void;
  /** Takes one resource sample now and applies the degradation tree. */
  sampleResources(): ServingMode;
  mode(): ServingMode;
  buildReport(): PodReport;
  start(): void;
  close(): void;
}

export async function createApp(deps: AppDeps): Promise<SidecarApp> {
  let config = deps.config;
  const current = (): SidecarConfig => config;
  const modelName = (): string => config.model.name;
  const clock = deps.clock ?? systemClock;
  const log = deps.loggers.event;
  const metrics = createMetrics(deps.registry);
  const info = deps.predictor.info();
  const counts = { total: 0, errors: 0 };
  const latencies = new SampleRing(10000);
  const matrix = new ObservationMatrix(config.matrix);

  // ---- the stages
  const context = new CallContext(deps.tracer, current);
  const authn = await Authn.create(config.auth, { log, ...(deps.watchKeyFiles !== undefined ? { watchKeyFiles: deps.watchKeyFiles } : {}), ...(deps.keyPollMs !== undefined ? { keyPollMs: deps.keyPollMs } : {}) });
  const authz = new Authz(config.auth.policies);
  const limiter = new RateLimiter(deps.rateLimiterMaxKeys ?? 10000, clock);
  const access = new Access(authn, authz, new RateGate(limiter, metrics.rateLimited), current);
  const modes = new ServingModes({ predictor: deps.predictor, device: deps.device, ...(deps.cpuPredictor ? { cpuPredictor: deps.cpuPredictor } : {}), ...(deps.resourceSampler ? { sampler: deps.resourceSampler } : {}), metrics, log, config: current });
  const readiness = new Readiness({ info, allowUnverified: deps.allowUnverified === true, active: () => modes.active(), mode: () => modes.mode, modelName, metrics, log, clock });
  const breakers = createBreakers({ config: config.breaker, clock, ...(deps.random ? { random: deps.random } : {}), probe: () => readiness.selfCheck(), metrics, log, onChange: () => readiness.publish() });
  readiness.attach(breakers);
  const gpuProcessMemory = (): number => {
    if (!deps.gpuTelemetry || deps.device !== 'gpu') return 0;
    const t = deps.gpuTelemetry();
    return t.available ? t.processMemoryBytes : 0;
  };
  const predict = new Predict({
    config: current,
    predictor: deps.predictor,
    modes,
    breakers,
    budgetBytes: deps.memoryBudgetBytes ?? 0,
    defaultMaxInFlight: deps.defaultMaxInFlight ?? 1,
    ...(deps.inlineRunMicros !== undefined ? { inlineRunMicros: deps.inlineRunMicros } : {}),
    tracer: deps.tracer,
    metrics,
    matrix,
    latencies,
    counts,
    gpuProcessMemory,
    onFailure: () => readiness.background(),
  });
  const queue = predict.queue;
  registerQueueMetrics(deps.registry, queue);
  const audit = new AuditRecorder(deps.loggers, info.digest, deps.audit);
  const failures = new Failures(deps.loggers, metrics, audit, modelName);
  const telemetry = new Telemetry(metrics, deps.loggers, modelName);
  const encoder = new ResponseEncoder(deps.encoder);
  const io = () => predict.io(modes.active().predictor);

  // ---- the pipeline, as every front end calls it
  const core: CallCore = {
    open: (method, path, headers, remoteAddress) => context.open(method, path, headers, remoteAddress),
    close: (call, status, route, method) => {
      // A gRPC call cancelled by its client closes with 499 (REST sets this itself): a run still waiting for a slot then never starts.
      if (status === CLIENT_CLOSED_STATUS) call.clientClosed = true;
      // Its client left while it waited for a run slot: out of the queue now, not at its turn.
      if (call.clientClosed) call.abandonWait?.();
      call.answerReady?.();
      if (call.service && !call.clientClosed) predict.answered(call);
      telemetry.close(call, status, route, method);
    },
    authorize: (call, policyPath, header, connection, remoteAddress) => access.authorize(call, policyPath, header, connection, remoteAddress),
    checkModel: (name, version) => checkModel(config.model.name, name, version),
    io,
    run: (call, inputs) => predict.run(call, inputs),
    audit: (call, action, status, reason) => audit.record(call, action, status, reason),
    fail: (call, err) => failures.note(call, err),
    traceparent: traceparentOfCall,
    capacity: () => {
      const l = predict.queueLimits(current());
      return l.maxInFlight + l.maxQueued;
    },
    readiness: () => readiness.state(),
    serverMetadata: () => ({ name: SIDECAR_NAME, version: SIDECAR_VERSION, extensions: SERVER_EXTENSIONS }),
    modelMetadata: () => {
      const m = io();
      return { name: config.model.name, versions: [MODEL_VERSION], platform: `paddle_${info.format}`, inputs: tensorMetadata(m.inputs), outputs: tensorMetadata(m.outputs) };
    },
    modelConfig: () => {
      const m = io();
      const b = predict.batching(config);
      return modelConfig(config.model.name, info.format, m.inputs, m.outputs, b && { maxBatchSize: b.maxBatchSize, maxQueueDelayMicroseconds: b.maxQueueDelayMicroseconds, preferredBatchSizes: b.preferredBatchSizes });
    },
    modelName,
    modelVersion: MODEL_VERSION,
  };

  const bodyLimitBytes = deps.bodyLimitBytes ?? 1024 * 1024;
  const rest = createRestFrontEnd({
    core,
    config: current,
    bodyLimitBytes,
    refuseWhenFull: () => queue.refuseWhenFull(),
    // Bodies received at once: as many full ones as the run queue can hold, running and waiting.
    pendingBodyBytes: () => core.capacity() * bodyLimitBytes,
    ...(deps.bodyPace ? { bodyPace: deps.bodyPace } : {}),
    encoder,
    readyAnswer: () => readiness.answer(),
    selfCheck: () => readiness.selfCheck(),
    ...(deps.encryptionKey ? { encryptionKey: deps.encryptionKey } : {}),
    ...(deps.modelDir !== undefined ? { modelDir: deps.modelDir } : {}),
    info,
  });

  let started = false;
  const applyConfig = async (next: SidecarConfig): Promise<void> => {
    await authn.reload(next.auth); // throws on unreadable key files: the old config stays
    config = next;
    authz.setPolicies(next.auth.policies);
    predict.setConfig(next);
    breakers.setConfig(next.breaker);
    matrix.setConfig(next.matrix);
    deps.loggers.setLevel(next.logLevel);
    if (started) modes.start();
  };

  const buildReport = (): PodReport => {
    const r = readiness.state();
    const s = modes.last;
    const gpu = s?.gpuMemoryTotalBytes !== undefined
      ? { memoryUsedBytes: s.gpuMemoryUsedBytes ?? 0, memoryTotalBytes: s.gpuMemoryTotalBytes, ...(s.gpuUtilization !== undefined ? { utilization: s.gpuUtilization } : {}) }
      : undefined;
    const breakerState: BreakerState = breakers.control.state;
    return buildPodReport({
      now: new Date(clock.now()),
      ready: r.ready,
      selfCheckPassed: readiness.selfCheckPassed,
      info,
      device: modes.active().device,
      mode: modes.mode,
      latenciesMs: latencies.values(),
      baselineP95Ms: breakers.control.measuredBaselineP95Ms(),
      requests: { ...counts },
      matrix: matrix.toStatus(),
      stats: modes.active().predictor.stats(),
      breaker: { state: breakerState, trips: breakers.control.trips + breakers.treatment.trips, treatmentState: breakers.treatment.state },
      ...(gpu ? { gpu } : {}),
      ...(r.ready ? {} : { message: r.reason }),
    });
  };

  await readiness.selfCheck();
  log.info({ model: config.model.name, digest: info.digest, verified: info.verified, ready: readiness.state().ready }, 'sidecar app created');

  return {
    handler: rest.handler,
    rest,
    core,
    metrics,
    breakers,
    limiter,
    queue,
    applyConfig,
    config: current,
    selfCheck: () => readiness.selfCheck(),
    readiness: () => readiness.state(),
    readyAnswer: () => readiness.answer(),
    drain: (reason) => readiness.drain(reason),
    sampleResources: () => modes.sample(),
    mode: () => modes.mode,
    buildReport,
    start: () => {
      started = true;
      breakers.start();
      authn.watch();
      modes.sample();
      modes.start();
    },
    close: () => {
      started = false;
      encoder.close();
      authn.stop();
      breakers.stop();
      modes.stop();
    },
  };
}
