// paddle-sidecar: CLI flags + environment -> createApp(...) -> HTTPS server, /metrics server,
// config hot reload, audit shipping, pod reports, graceful shutdown.
//
// Flags: FLAG_HELP below (what `--help` prints: each flag, its environment variable, its default;
// defaults from crds/src/pod-contract.ts), and the README's "Flags and environment".

import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { gpuTelemetry, Predictor, type LoadOptions, unsentBytes } from '../../native/lib/index.js';
import { ENV, PATHS, PORTS } from '../../crds/src/pod-contract.js';
import type { Device } from '../../crds/src/types.js';
import { createApp, SIDECAR_NAME, type AuditSink } from './app.js';
import { within } from './clock.js';
import { AuditShipper, type AuditEvent } from './audit.js';
import { type SidecarConfig, defaultSidecarConfig } from './config.js';
import { readConfigFile, watchConfigFile } from './config-reloader.js';
import { createResourceSampler } from './degradation.js';
import { describeCause } from './errors.js';
import { readEncryptionKey } from './input-crypto.js';
import { createLoggers, processSinks, type LogSinks } from './logging.js';
import { PodReporter, PodReportPatcher } from './pod-report.js';
import type { GpuTelemetryLike, PredictorLike } from './predictor.js';
import { API_CONNECTIONS_DEFAULT, apiConnectionLimits, defaultApiConnections, HEADER_TIMEOUT_S_DEFAULT, HELD_ANSWER_BYTES_DEFAULT, IDLE_TIMEOUT_S_DEFAULT, METRICS_CONNECTIONS, openFileLimit } from './connections.js';
import { BODY_PACE_DEFAULTS } from './pace.js';
import { INLINE_RUN_US_DEFAULT } from './pipeline/inline-runs.js';
import { createSidecarServer } from './server.js';
import { createGrpcFrontEnd } from './grpc/server.js';
import { metricsListener } from './listeners.js';
import { HealthPort } from './health-port.js';
import { watchFiles } from './file-watch.js';
import { ReloadableTracing } from './tracing.js';

interface NativeModule {
  Predictor: { load(o: LoadOptions): Promise<PredictorLike> };
  gpuTelemetry?: () => GpuTelemetryLike;
}

function parseBool(v: string | undefined, fallback: boolean): boolean {
  if (v === undefined || v === '') return fallback;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(v)}`);
}

/** --shutdown-delay-seconds when running in a pod (POD_NAME set by the downward API). */
const SHUTDOWN_DELAY_IN_POD_S = 5;

function parseIntFlag(name: string, v: string | undefined, fallback: number, min = 0): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got ${JSON.stringify(v)}`);
  return n;
}

const OPTIONS = {
  'model-dir': { type: 'string', default: PATHS.modelDir },
  'model-name': { type: 'string' },
  'model-format': { type: 'string' },
  backend: { type: 'string' },
  device: { type: 'string' },
  'gpu-device-id': { type: 'string' },
  'cpu-threads': { type: 'string' },
  'max-memory-mb': { type: 'string' },
  'paddle-library-path': { type: 'string' },
  'public-key': { type: 'string', default: PATHS.publicKey },
  'require-signature': { type: 'string' },
  config: { type: 'string', default: PATHS.configFile },
  host: { type: 'string', default: '0.0.0.0' },
  port: { type: 'string' },
  'metrics-port': { type: 'string' },
  'health-port': { type: 'string' },
  'grpc-port': { type: 'string' },
  'tls-cert': { type: 'string', default: PATHS.tlsCert },
  'tls-key': { type: 'string', default: PATHS.tlsKey },
  'tls-ca': { type: 'string', default: PATHS.tlsCa },
  mtls: { type: 'boolean', default: false },
  'no-tls': { type: 'boolean', default: false },
  'encryption-key-file': { type: 'string', default: PATHS.encryptionKeyFile },
  'body-limit': { type: 'string' },
  'rate-limit-keys': { type: 'string' },
  'dead-letter-file': { type: 'string' },
  'shutdown-delay-seconds': { type: 'string' },
  'max-connections': { type: 'string' },
  'idle-timeout-seconds': { type: 'string' },
  'header-timeout-seconds': { type: 'string' },
  'min-body-rate': { type: 'string' },
  'max-held-answer-bytes': { type: 'string' },
  'inline-run-us': { type: 'string' },
  'body-rate-window-seconds': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Defaults of the flags whose value is parsed below (the help text prints these too). */
const DEFAULTS = { modelFormat: 'auto', backend: 'builtin', device: 'cpu', gpuDeviceId: 0, cpuThreads: 1, maxMemoryMB: 2048, requireSignature: true, bodyLimitBytes: 1024 * 1024, rateLimitKeys: 10000 } as const;

/** One line per flag (the type makes a flag without a description a compile error). */
const FLAG_HELP: Record<keyof typeof OPTIONS, string> = {
  'model-dir': 'the model directory (verified before serving)',
  'model-name': `the name served when no config file sets one (env ${ENV.modelName})`,
  'model-format': `auto, pdmodel or pir (env ${ENV.modelFormat}; default ${DEFAULTS.modelFormat})`,
  backend: `builtin or paddle (env ${ENV.backend}; default ${DEFAULTS.backend})`,
  device: `cpu or gpu (env ${ENV.device}; default ${DEFAULTS.device})`,
  'gpu-device-id': `GPU ordinal (default ${DEFAULTS.gpuDeviceId})`,
  'cpu-threads': `predictor threads (env ${ENV.cpuThreads}; default ${DEFAULTS.cpuThreads})`,
  'max-memory-mb': `predictor memory budget (env ${ENV.maxMemoryMB}; default ${DEFAULTS.maxMemoryMB})`,
  'paddle-library-path': 'the Paddle Inference C library, for backend paddle',
  'public-key': 'PEM public key the model signature must verify against',
  'require-signature': `true or false (env ${ENV.requireSignature}; default ${DEFAULTS.requireSignature})`,
  config: 'the config file (the operator\'s ConfigMap); reloaded on change; absent: defaults, auth off',
  host: 'address to listen on',
  port: `serving port (default ${PORTS.serving})`,
  'metrics-port': `plain-HTTP port serving GET /metrics only (default ${PORTS.metrics}; 0: off)`,
  'health-port': `plain-HTTP port serving GET /v2/health/live and /v2/health/ready only, for the kubelet (default ${PORTS.health}; 0: off)`,
  'grpc-port': `OIP v2 gRPC port (inference.GRPCInferenceService), on the same certificates as --port (default ${PORTS.grpc}; 0: off)`,
  'tls-cert': 'serving certificate (re-read on change)',
  'tls-key': 'its private key',
  'tls-ca': 'CA of client certificates (for --mtls)',
  mtls: 'require client certificates issued by --tls-ca',
  'no-tls': 'serve plain HTTP',
  'encryption-key-file': 'AES-256 key for /v1/encrypt_input (re-read on change)',
  'body-limit': `request body limit in bytes (default ${DEFAULTS.bodyLimitBytes})`,
  'rate-limit-keys': `most rate-limiter buckets kept (default ${DEFAULTS.rateLimitKeys})`,
  'dead-letter-file': 'append log records that fail the schema here instead of stderr',
  'shutdown-delay-seconds': `on SIGTERM, answer not ready but keep serving this long before draining, so clients that picked this pod before it was marked terminating still get through (default ${SHUTDOWN_DELAY_IN_POD_S} in a pod, i.e. with ${ENV.podName} set; else 0)`,
  'max-connections': `connections each API port (REST, gRPC) holds at once; past it a newcomer takes the place of the oldest connection holding no request, or is closed at once when every one has a request in progress (default ${API_CONNECTIONS_DEFAULT}, less where the open-file limit needs it)`,
  'idle-timeout-seconds': `a connection on which nothing moved this long is closed, unless a request on it is being computed; also the keep-alive timeout (default ${IDLE_TIMEOUT_S_DEFAULT})`,
  'header-timeout-seconds': `a request whose line and headers took longer is answered 408 and its connection closed (default ${HEADER_TIMEOUT_S_DEFAULT})`,
  'inline-run-us': `the longest predictor run executed on the main thread instead of the addon's thread pool: a run that is alone (no other call past the queue) in a quiet turn of the event loop (no other request arrived in it or the turn before) whose shape computed within this many microseconds (the engine's own time) runs inline, with no hop to the pool and back, until one inline run takes longer; a dynamic batch of one request is placed alike, merged batches run on the pool (default ${INLINE_RUN_US_DEFAULT}; 0: every run on the pool)`,
  'max-held-answer-bytes': `bytes of answers all REST connections together may hold in the process while their clients take them; past it, checked once per --body-rate-window-seconds, the connections taking theirs the slowest are reset until the rest fit (default ${HELD_ANSWER_BYTES_DEFAULT}; 0: no bound; gRPC answers are not counted)`,
  'min-body-rate': `bytes per second a request body (REST) or message (gRPC, per call still receiving) must keep arriving at over each window, else 408 / the connection closed, and an answer the process still holds must be taken at (REST and gRPC), else the connection is reset; under a full bound the oldest incomplete ones past one window give way first (default ${BODY_PACE_DEFAULTS.minRateBytesPerSecond}; 0: no floor)`,
  'body-rate-window-seconds': `the window of --min-body-rate (default ${BODY_PACE_DEFAULTS.windowMs / 1000})`,
  help: 'print this and exit',
};

/** The `--help` text. */
export function usage(): string {
  const rows = Object.entries(OPTIONS).map(([flag, o]) => {
    const dflt = 'default' in o && typeof o.default === 'string' ? ` [${o.default}]` : '';
    return `  --${flag}${o.type === 'string' ? ' VALUE' : ''}${dflt}\n      ${FLAG_HELP[flag as keyof typeof OPTIONS]}`;
  });
  return [`usage: ${SIDECAR_NAME} [--flag VALUE]...`, '', ...rows, ''].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: OPTIONS, strict: true });
  if (values.help) {
    process.stdout.write(usage());
    return;
  }
  const env = process.env;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'paddle_sidecar_' });

  const deadLetterHook = { count: (): void => undefined };
  const baseSinks = processSinks(() => deadLetterHook.count());
  const sinks: LogSinks = values['dead-letter-file']
    ? { ...baseSinks, deadLetter: createWriteStream(values['dead-letter-file'], { flags: 'a' }) }
    : baseSinks;
  const loggers = createLoggers({ service: SIDECAR_NAME, sinks });
  const log = loggers.event;

  // Config: the file when present (and valid), else defaults for the flag/env model name.
  const configPath = values.config;
  let config: SidecarConfig;
  const modelNameFallback = values['model-name'] ?? env[ENV.modelName] ?? 'model';
  if (existsSync(configPath)) {
    const r = readConfigFile(configPath);
    if (!r.ok) throw new Error(r.error);
    config = r.config;
  } else {
    log.warn({ path: configPath }, 'config file not found: running with defaults and auth disabled');
    config = defaultSidecarConfig(modelNameFallback);
  }
  loggers.setLevel(config.logLevel);

  const device = (values.device ?? env[ENV.device] ?? DEFAULTS.device) as Device;
  if (device !== 'cpu' && device !== 'gpu') throw new Error(`--device must be cpu or gpu, got ${JSON.stringify(device)}`);
  const requireSignature = parseBool(values['require-signature'] ?? env[ENV.requireSignature], DEFAULTS.requireSignature);
  const publicKeyPem = existsSync(values['public-key']) ? readFileSync(values['public-key'], 'utf8') : undefined;
  if (requireSignature && !publicKeyPem) throw new Error(`signature required but public key ${values['public-key']} is missing`);

  // The addon's public entry; the typed view below checks that it meets PredictorLike.
  const native: NativeModule = { Predictor, gpuTelemetry };
  const format = values['model-format'] ?? env[ENV.modelFormat] ?? DEFAULTS.modelFormat;
  if (format !== 'auto' && format !== 'pdmodel' && format !== 'pir') throw new Error(`--model-format must be auto, pdmodel or pir, got ${JSON.stringify(format)}`);
  const backend = values.backend ?? env[ENV.backend] ?? DEFAULTS.backend;
  if (backend !== 'builtin' && backend !== 'paddle') throw new Error(`--backend must be builtin or paddle, got ${JSON.stringify(backend)}`);
  const loadOptions = {
    modelDir: values['model-dir'],
    format: format as NonNullable<LoadOptions['format']>,
    backend: backend as NonNullable<LoadOptions['backend']>,
    requireSignature,
    ...(publicKeyPem ? { publicKeyPem } : {}),
    cpuThreads: parseIntFlag('cpu-threads', values['cpu-threads'] ?? env[ENV.cpuThreads], DEFAULTS.cpuThreads),
    maxMemoryMB: parseIntFlag('max-memory-mb', values['max-memory-mb'] ?? env[ENV.maxMemoryMB], DEFAULTS.maxMemoryMB),
    gpuDeviceId: parseIntFlag('gpu-device-id', values['gpu-device-id'], DEFAULTS.gpuDeviceId),
    ...(values['paddle-library-path'] ? { paddleLibraryPath: values['paddle-library-path'] } : {}),
    // spec.runtime.paddleVersion: the Paddle Inference version the paddle backend must find.
    ...(env[ENV.paddleVersion] ? { paddleVersion: env[ENV.paddleVersion] } : {}),
  };
  const predictor = await native.Predictor.load({ ...loadOptions, device });
  const cpuPredictor = device === 'gpu' ? await native.Predictor.load({ ...loadOptions, device: 'cpu' }) : undefined;
  const mi = predictor.info();
  log.info({ digest: mi.digest, verified: mi.verified, keyId: mi.keyId ?? null, backend: mi.backend, backendVersion: mi.backendVersion }, 'model loaded');

  const tracing = new ReloadableTracing({ serviceName: SIDECAR_NAME, ...(config.otlp ? { otlpEndpoint: config.otlp.endpoint } : {}) });

  // Audit: a sink that forwards to the shipper of the current config (rebuilt when it changes).
  let shipper: AuditShipper | undefined;
  let shipperKey = '';
  const buildShipper = (c: SidecarConfig, onDepth: (n: number) => void, onDropped: () => void, onSent: () => void): void => {
    const key = JSON.stringify(c.audit ?? null);
    if (key === shipperKey) return;
    const old = shipper;
    shipper = undefined;
    shipperKey = key;
    if (old) void old.close();
    if (!c.audit) return;
    const a = c.audit;
    const protocol = a.protocol ?? 'tls';
    shipper = new AuditShipper({
      protocol,
      host: a.host,
      port: a.port ?? (protocol === 'tls' ? 6514 : 514),
      ...(a.caFile && existsSync(a.caFile) ? { ca: readFileSync(a.caFile) } : existsSync(PATHS.auditCaFile) ? { ca: readFileSync(PATHS.auditCaFile) } : {}),
      appName: a.appName ?? SIDECAR_NAME,
      bufferRecords: a.bufferRecords ?? 10000,
      onDepth,
      onDropped,
      onSent,
      onConnectionError: (err) => log.warn({ '@error.cause': describeCause(err) }, 'audit receiver connection failed'),
    });
  };
  const audit: AuditSink = { record: (e: AuditEvent) => shipper?.record(e) ?? -1 };

  // The AES key is read once and re-read when its file changes (Secret rotation).
  const keyPath = values['encryption-key-file'];
  let encKey: Buffer | undefined;
  const loadEncryptionKey = (): void => {
    try {
      encKey = existsSync(keyPath) ? readEncryptionKey(keyPath) : undefined;
    } catch (err) {
      log.error({ '@error.cause': describeCause(err) }, 'encryption key unreadable; keeping the previous key');
    }
  };
  loadEncryptionKey();
  const encKeyWatcher = watchFiles([keyPath], loadEncryptionKey);
  const encryptionKey = (): Buffer | undefined => encKey;

  // Admission's memory budget per run: the ceiling less what the loaded process holds now
  // (node, the parameters); runs in flight share it through the queue.
  const heldBytes = process.memoryUsage().rss;
  const memoryBudgetBytes = Math.max(0, loadOptions.maxMemoryMB * 1024 * 1024 - heldBytes);
  log.info({ maxMemoryMB: loadOptions.maxMemoryMB, heldBytes, memoryBudgetBytes, estimate: typeof predictor.estimateRunBytes === 'function' }, 'memory budget');
  // How slowly a request body (REST) or message (gRPC) may arrive (pace.ts).
  const bodyPace = {
    minRateBytesPerSecond: parseIntFlag('min-body-rate', values['min-body-rate'], BODY_PACE_DEFAULTS.minRateBytesPerSecond),
    windowMs: parseIntFlag('body-rate-window-seconds', values['body-rate-window-seconds'], BODY_PACE_DEFAULTS.windowMs / 1000, 1) * 1000,
  };
  const sidecar = await createApp({
    memoryBudgetBytes,
    defaultMaxInFlight: loadOptions.cpuThreads,
    inlineRunMicros: parseIntFlag('inline-run-us', values['inline-run-us'], INLINE_RUN_US_DEFAULT),
    config,
    predictor,
    ...(cpuPredictor ? { cpuPredictor } : {}),
    registry,
    loggers,
    tracer: tracing.tracer,
    device,
    modelDir: values['model-dir'],
    encryptionKey,
    audit,
    resourceSampler: createResourceSampler(native.gpuTelemetry, loadOptions.gpuDeviceId),
    ...(native.gpuTelemetry ? { gpuTelemetry: native.gpuTelemetry } : {}),
    bodyLimitBytes: parseIntFlag('body-limit', values['body-limit'], DEFAULTS.bodyLimitBytes),
    bodyPace,
    rateLimiterMaxKeys: parseIntFlag('rate-limit-keys', values['rate-limit-keys'], DEFAULTS.rateLimitKeys) || DEFAULTS.rateLimitKeys,
    allowUnverified: !requireSignature,
  });
  const m = sidecar.metrics;
  deadLetterHook.count = () => m.logDeadLetters.inc();
  const auditHooks = [(n: number) => m.auditBufferDepth.set(n), () => m.auditDropped.inc(), () => m.auditSent.inc()] as const;
  buildShipper(config, ...auditHooks);
  sidecar.start();

  const reloader = existsSync(configPath)
    ? watchConfigFile(
        configPath,
        async (c) => {
          await sidecar.applyConfig(c);
          buildShipper(c, ...auditHooks);
          if (tracing.apply(c.otlp?.endpoint)) log.info({ otlpEndpoint: c.otlp?.endpoint ?? null }, 'trace exporter replaced');
        },
        (outcome) => {
          if (outcome.ok) {
            m.configReloads.inc({ result: 'applied' });
            log.info({ path: configPath }, 'config reloaded');
          } else {
            m.configReloads.inc({ result: 'rejected' });
            log.error({ path: configPath, '@error.cause': outcome.error }, 'config rejected; keeping the last good config');
          }
        },
      )
    : undefined;

  const tls = values['no-tls']
    ? undefined
    : { certFile: values['tls-cert'], keyFile: values['tls-key'], ...(existsSync(values['tls-ca']) ? { caFile: values['tls-ca'] } : {}), mutual: values.mtls };
  const closedOn = (listener: string) => (reason: string) => m.connectionsClosed.inc({ listener, reason });
  const idleTimeoutMs = parseIntFlag('idle-timeout-seconds', values['idle-timeout-seconds'], IDLE_TIMEOUT_S_DEFAULT, 1) * 1000;
  const headerTimeoutMs = parseIntFlag('header-timeout-seconds', values['header-timeout-seconds'], HEADER_TIMEOUT_S_DEFAULT, 1) * 1000;
  const apiLimits = apiConnectionLimits({ maxConnections: parseIntFlag('max-connections', values['max-connections'], defaultApiConnections(openFileLimit()), 1), idleTimeoutMs, headerTimeoutMs, unsentBytes, answerPace: bodyPace, maxHeldAnswerBytes: parseIntFlag('max-held-answer-bytes', values['max-held-answer-bytes'], HELD_ANSWER_BYTES_DEFAULT) });
  const serving = createSidecarServer({
    handler: sidecar.handler, limits: apiLimits, onConnectionClosed: closedOn('rest'),
    ...(tls ? { tls } : {}),
    onTlsReload: (r) => (r.ok ? log.info({}, 'TLS certificate reloaded') : log.error({ '@error.cause': r.error }, 'TLS certificate reload failed; keeping the old one')),
  });
  const port = await serving.listen(parseIntFlag('port', values.port, PORTS.serving), values.host);

  // The side ports: one purpose each, never the API (src/listeners.ts).
  const metricsPort = parseIntFlag('metrics-port', values['metrics-port'], PORTS.metrics);
  const metricsServer = metricsPort > 0 ? createSidecarServer({ handler: metricsListener(registry), limits: { maxConnections: METRICS_CONNECTIONS, idleTimeoutMs }, onConnectionClosed: closedOn('metrics') }) : undefined;
  const metricsBound = metricsServer ? await metricsServer.listen(metricsPort, values.host) : 0;
  const healthPort = parseIntFlag('health-port', values['health-port'], PORTS.health);
  const healthServer = healthPort > 0 ? new HealthPort({ readiness: sidecar.readyAnswer, idleTimeoutMs }) : undefined;
  const healthBound = healthServer ? await healthServer.listen(healthPort, values.host) : 0;
  const grpcPort = parseIntFlag('grpc-port', values['grpc-port'], PORTS.grpc);
  const grpc = grpcPort > 0 ? createGrpcFrontEnd({ core: sidecar.core, ...(tls ? { tls } : {}), maxMessageBytes: parseIntFlag('body-limit', values['body-limit'], DEFAULTS.bodyLimitBytes), limits: apiLimits, pace: bodyPace, onConnectionClosed: closedOn('grpc') }) : undefined;
  const grpcBound = grpc ? await grpc.listen(grpcPort, values.host) : 0;
  log.info({ port, metricsPort: metricsBound, healthPort: healthBound, grpcPort: grpcBound, tls: Boolean(tls), mtls: Boolean(tls?.mutual) }, 'serving');

  // Pod report: only when the downward API says which pod and PaddleService this is.
  let stopping = false;
  let reporter: PodReporter | undefined;
  let patcher: PodReportPatcher | undefined;
  const podName = env[ENV.podName];
  const namespace = env[ENV.podNamespace];
  const serviceName = env[ENV.serviceName];
  if (podName && namespace && serviceName) {
    const templateHash = env[ENV.templateHash];
    const reports = new PodReportPatcher(PodReportPatcher.kubeConfigFromEnvironment(), { podName, namespace, serviceName, ...(templateHash ? { templateHash } : {}) });
    patcher = reports;
    reporter = new PodReporter({
      build: () => sidecar.buildReport(),
      patch: (r) => reports.patch(r),
      cadence: () => ({ intervalSeconds: sidecar.config().reportIntervalSeconds, heartbeatSeconds: sidecar.config().reportHeartbeatSeconds }),
      onResult: (result, err) => {
        m.reportPatches.inc({ result });
        if (result === 'error') log.warn({ '@error.cause': describeCause(err) }, 'pod report patch failed');
      },
    });
    reporter.start();
  } else {
    log.info({}, 'not in a cluster (POD_NAME/POD_NAMESPACE/PADDLESERVICE_NAME unset): pod reports off');
  }

  const shutdownDelayS = parseIntFlag('shutdown-delay-seconds', values['shutdown-delay-seconds'], podName ? SHUTDOWN_DELAY_IN_POD_S : 0);
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // From SIGTERM on, readiness says so on every port (the kubelet and the endpoints stop sending
    // new work) while the ports keep answering for --shutdown-delay-seconds.
    sidecar.drain(`shutting down (${signal})`);
    reporter?.stop(); // no more reports: this pod is on its way out
    patcher?.close();
    if (shutdownDelayS > 0) {
      // A client (or a Service whose endpoints lag) that picked this pod just before it was
      // marked terminating still connects: answer it before closing the listeners.
      log.info({ signal, delaySeconds: shutdownDelayS }, 'shutting down: not ready, still serving until the delay ends');
      await new Promise((r) => setTimeout(r, shutdownDelayS * 1000));
    }
    log.info({ signal }, 'shutting down: draining connections');
    reloader?.close();
    encKeyWatcher.close();
    await within(Promise.all([serving.close(), metricsServer?.close(), healthServer?.close(), grpc?.close()]).then(() => true), 10_000, false);
    sidecar.close();
    await shipper?.close(3000);
    if (!(await tracing.shutdown(3000))) log.warn({ '@error.cause': `OTLP collector ${tracing.otlpEndpoint ?? ''} did not take the last spans within 3 s` }, 'stopped without flushing traces');
    predictor.dispose();
    cpuPredictor?.dispose();
    log.info({}, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  // node:util parseArgs' errors (unknown flag, missing value) get a pointer to --help.
  const code = (err as { code?: unknown }).code;
  const hint = typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS') ? ' (--help lists the flags)' : '';
  process.stderr.write(
    `${JSON.stringify({ timestamp: new Date().toISOString(), level: 'ERROR', service: SIDECAR_NAME, trace_id: '0'.repeat(31) + '1', '@log.kind': 'event', '@error.cause': `${describeCause(err)}${hint}`, message: 'sidecar failed to start' })}\n`,
  );
  process.exit(1);
});
