// The contract between the operator (which builds model pods) and the sidecar (which runs in
// them): mount paths, ports, environment variable names and the rendered config file. Both
// sides import these constants, so a path is spelled in exactly one place.

import type { AuthPolicy, BreakerSpec, CanarySpec, DegradationSpec, MatrixSpec, ObservabilitySpec } from './types.js';

export const PORTS = {
  /** HTTPS (or HTTP when TLS is disabled): the API (inference, admin, metadata, health). */
  serving: 8443,
  /** Plain HTTP, GET /metrics only (Prometheus, inside the cluster). */
  metrics: 9090,
  /**
   * Plain HTTP, GET /v2/health/live and /v2/health/ready only: the kubelet's probes (it cannot
   * present a client certificate when the serving port requires one). Not on the Service.
   */
  health: 8081,
  /**
   * OIP v2 gRPC (inference.GRPCInferenceService), on the serving port's certificates (TLS, or
   * mutual TLS: a client without a certificate from the client CA fails the handshake).
   * On the Service as port `grpc`.
   */
  grpc: 8001,
} as const;

export const PATHS = {
  modelDir: '/models/model',
  publicKey: '/etc/paddle/verify/public.pem',
  tlsDir: '/etc/paddle/tls',
  tlsCert: '/etc/paddle/tls/tls.crt',
  tlsKey: '/etc/paddle/tls/tls.key',
  tlsCa: '/etc/paddle/tls/ca.crt',
  configFile: '/etc/paddle/config/config.json',
  authDir: '/etc/paddle/auth',
  jwksFile: '/etc/paddle/auth/jwks.json',
  hmacSecretFile: '/etc/paddle/auth/hmac.key',
  encryptionKeyFile: '/etc/paddle/encryption/key',
  auditCaFile: '/etc/paddle/audit/ca.crt',
  tmpDir: '/tmp',
  /** The model-fetch init container's view of the source's Secret (credentials, headers, CA). */
  sourceDir: '/etc/paddle/source',
  /** Where the kubelet reads a container's termination message from (the Kubernetes default). */
  terminationLog: '/dev/termination-log',
} as const;

/**
 * The init container that downloads an s3 / https model source into the model emptyDir and
 * checks it against the signed manifest (`paddle-model fetch`, native/lib/cli/fetch.ts); its
 * termination message is the reason the operator copies into the ModelFetched condition.
 */
export const MODEL_FETCH = {
  container: 'model-fetch',
  command: 'paddle-model',
  /** File names inside PATHS.sourceDir. */
  files: { accessKeyId: 'accessKeyId', secretAccessKey: 'secretAccessKey', headers: 'headers', ca: 'ca.crt' },
} as const;

/** Environment the operator sets on the sidecar container (downward API and runtime). */
export const ENV = {
  podName: 'POD_NAME',
  podNamespace: 'POD_NAMESPACE',
  serviceName: 'PADDLESERVICE_NAME',
  cpuThreads: 'PADDLE_CPU_THREADS',
  maxMemoryMB: 'PADDLE_MAX_MEMORY_MB',
  backend: 'PADDLE_BACKEND',
  device: 'PADDLE_DEVICE',
  modelName: 'PADDLE_MODEL_NAME',
  modelFormat: 'PADDLE_MODEL_FORMAT',
  requireSignature: 'PADDLE_REQUIRE_SIGNATURE',
  paddleVersion: 'PADDLE_EXPECTED_VERSION',
  /** The pod's serving.paddle.io/template-hash label (downward API); the pod stamps it on its reports. */
  templateHash: 'PADDLE_TEMPLATE_HASH',
} as const;

/**
 * Command-line flags of the sidecar that the operator sets from the spec (the container's args).
 * TLS on is the sidecar's default; these switch it off or make client certificates mandatory.
 */
export const SIDECAR_ARGS = {
  noTls: '--no-tls',
  mutualTls: '--mtls',
} as const;

/** Health and serving paths the probes and Services point at. */
export const HTTP_PATHS = {
  live: '/v2/health/live',
  ready: '/v2/health/ready',
  healthz: '/healthz',
  metrics: '/metrics',
} as const;

/**
 * The serving port's route table: every route the sidecar answers, by the path spelling that
 * policies use (`{model}`, `{version}` stand for one path segment). `public` routes are open by
 * design (health, metadata: they run nothing a caller controls); every `policy` route
 * (inference, encryption, export) is default-deny: a config whose auth.policies leaves one out
 * is refused, naming it (the CRD's CEL, the operator's validator and the sidecar's config
 * loader alike), and a policy whose path is not a `policy` route here is refused as dead.
 * `aliases` are other spellings of the same route, guarded by the same policy.
 */
export const SIDECAR_ROUTES = [
  { path: '/v2/health/live', methods: ['GET'], access: 'public' },
  { path: '/v2/health/ready', methods: ['GET'], access: 'public' },
  { path: '/healthz', methods: ['GET'], access: 'public' },
  { path: '/v2', methods: ['GET'], access: 'public' },
  { path: '/v2/models/{model}', methods: ['GET'], access: 'public', aliases: ['/v2/models/{model}/versions/{version}'] },
  { path: '/v2/models/{model}/ready', methods: ['GET'], access: 'public', aliases: ['/v2/models/{model}/versions/{version}/ready'] },
  { path: '/v2/models/{model}/config', methods: ['GET'], access: 'public', aliases: ['/v2/models/{model}/versions/{version}/config'] },
  { path: '/v2/models/{model}/infer', methods: ['POST'], access: 'policy', aliases: ['/v2/models/{model}/versions/{version}/infer'] },
  { path: '/v1/predict', methods: ['POST'], access: 'policy' },
  { path: '/v1/encrypt_input', methods: ['POST'], access: 'policy' },
  { path: '/v1/export_model', methods: ['GET', 'POST'], access: 'policy' },
] as const satisfies readonly SidecarRoute[];

export interface SidecarRoute {
  path: string;
  methods: readonly ('GET' | 'POST')[];
  access: 'public' | 'policy';
  aliases?: readonly string[];
}

/** The routes that need a policy (default-deny), in table order. */
export const PROTECTED_PATHS: readonly string[] = SIDECAR_ROUTES.filter((r) => r.access === 'policy').map((r) => r.path);

/**
 * The longest a pod goes without writing an unchanged report, in ms: the heartbeat, never below
 * the report interval (no heartbeat: every interval). The sidecar writes by it and the operator's
 * staleness window is built on it.
 */
export function reportHeartbeatMs(intervalSeconds: number, heartbeatSeconds: number | undefined): number {
  return Math.max(intervalSeconds, heartbeatSeconds ?? 0) * 1000;
}

/**
 * Default-deny over a policies list: the message for the first protected route without a
 * policy, then for the first policy that guards no protected route (dead); undefined when
 * every protected route has exactly the policies it needs. `where` prefixes the field path.
 */
export function checkPolicyCoverage(policies: readonly { path: string }[], where: string): string | undefined {
  for (const path of PROTECTED_PATHS) {
    if (!policies.some((p) => p.path === path)) return `${where} has no policy for ${path}: every inference and admin route needs one (default-deny)`;
  }
  for (const [i, p] of policies.entries()) {
    if (!PROTECTED_PATHS.includes(p.path)) return `${where}[${i}].path ${JSON.stringify(p.path)} is not a protected route of the sidecar (one of ${PROTECTED_PATHS.join(', ')}): the policy would guard nothing`;
  }
  return undefined;
}

/**
 * The config file the operator renders into the ConfigMap and the sidecar hot-reloads.
 * Every field is resolved (defaults applied); secret material is referenced by file path only.
 */
export interface SidecarConfig {
  version: 1;
  model: { name: string };
  auth: {
    enabled: boolean;
    issuer?: string;
    audience?: string;
    clockSkewSeconds: number;
    jwksFile?: string;
    hmacSecretFile?: string;
    policies: AuthPolicy[];
    /**
     * This pod's share of every policy's callsPerMinute (0 < share <= 1): 1 / replicas, set by
     * the operator so that the policy's numbers hold for the whole PaddleService. Absent: 1.
     */
    rateShare?: number;
  };
  cors: { allowedOrigins: string[] };
  breaker: Required<Omit<BreakerSpec, 'recovery'>> & {
    recovery: Required<NonNullable<BreakerSpec['recovery']>>;
    /** Fleet baseline P95 published by the operator; the pod uses its own rolling baseline when absent. */
    baselineP95Ms?: number;
  };
  degradation: Required<DegradationSpec>;
  /** The bounded run queue (spec.queue); maxInFlight absent: the sidecar's CPU threads. */
  queue: { maxInFlight?: number; maxQueued: number; maxQueueTimeMs: number };
  /** Dynamic batching (spec.batching), resolved. */
  batching: { enabled: boolean; maxBatchSize: number; maxQueueDelayMicroseconds: number; preferredBatchSizes: number[] };
  canary: CanarySpec;
  audit?: NonNullable<ObservabilitySpec['audit']> & { caFile?: string };
  otlp?: { endpoint: string };
  matrix: Required<MatrixSpec>;
  reportIntervalSeconds: number;
  /**
   * The longest the pod goes without writing an unchanged report (at least reportIntervalSeconds).
   * Absent (a config written by an operator that predates it): every interval, as before.
   */
  reportHeartbeatSeconds?: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}
