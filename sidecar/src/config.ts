// The sidecar config file (SidecarConfig from crds/src/pod-contract.ts): the JSON schema it must
// satisfy, defaults, and the one parser. The operator renders a fully resolved file; the
// defaults here (the checklist's numbers) make a hand-written minimal file work too.

import { Ajv, type ErrorObject } from 'ajv';
import { checkPolicyCoverage, type SidecarConfig } from '../../crds/src/pod-contract.js';

export type { SidecarConfig };

const fraction = { type: 'number', minimum: 0, maximum: 1 } as const;
const positive = { type: 'number', exclusiveMinimum: 0 } as const;
const positiveInt = { type: 'integer', minimum: 1 } as const;
const filePath = { type: 'string', minLength: 1, maxLength: 4096, pattern: '^/' } as const;

/** The CRD's default table: every protected route of SIDECAR_ROUTES (default-deny). */
export const DEFAULT_POLICIES = [
  { path: '/v2/models/{model}/infer', domain: 'model_inference', callsPerMinute: 60 },
  { path: '/v1/predict', domain: 'model_inference', callsPerMinute: 60 },
  { path: '/v1/encrypt_input', domain: 'data_protection', callsPerMinute: 20 },
  { path: '/v1/export_model', domain: 'model_admin', callsPerMinute: 5 },
];

/** The run queue's defaults (the CRD's spec.queue defaults; maxInFlight defaults to the CPU threads). */
export const QUEUE_DEFAULTS = { maxQueued: 128, maxQueueTimeMs: 1000 } as const;

/** JSON schema of the config file (draft-07, as ajv checks it). */
export const sidecarConfigSchema = {
  $id: 'https://serving.paddle.io/schemas/sidecar-config.json',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'model'],
  properties: {
    version: { const: 1 },
    model: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' } },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        issuer: { type: 'string', minLength: 1 },
        audience: { type: 'string', minLength: 1 },
        clockSkewSeconds: { type: 'number', minimum: 0, maximum: 600, default: 30 },
        jwksFile: filePath,
        hmacSecretFile: filePath,
        // This pod's share of every policy's rate (1 / replicas, from the operator).
        rateShare: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 1 },
        policies: {
          type: 'array',
          maxItems: 64,
          default: DEFAULT_POLICIES,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['path', 'domain', 'callsPerMinute'],
            properties: {
              path: { type: 'string', pattern: '^/[A-Za-z0-9_./{}-]*$', maxLength: 256 },
              domain: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
              callsPerMinute: { type: 'integer', minimum: 1, maximum: 1000000 },
            },
          },
        },
      },
    },
    cors: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        allowedOrigins: {
          type: 'array',
          default: [],
          maxItems: 256,
          // A full origin (scheme://host[:port]); never "*" or a pattern.
          items: { type: 'string', pattern: '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$' },
        },
      },
    },
    breaker: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        latencyMultiplier: { type: 'number', minimum: 1, maximum: 100, default: 1.8 },
        errorRateThreshold: { ...fraction, default: 0.05 },
        consecutiveWindows: { ...positiveInt, maximum: 1000, default: 3 },
        windowSeconds: { ...positive, maximum: 3600, default: 10 },
        failureThreshold: { ...positiveInt, default: 10 },
        treatmentFailureThreshold: { ...positiveInt, default: 5 },
        baselineP95Ms: positive,
        recovery: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            initialDelaySeconds: { ...positive, maximum: 3600, default: 1 },
            maxDelaySeconds: { ...positive, maximum: 86400, default: 60 },
            maxBackoffAttempts: { type: 'integer', minimum: 0, maximum: 64, default: 5 },
            jitter: { type: 'number', minimum: 0, maximum: 0.5, default: 0.1 },
            requiredPasses: { ...positiveInt, maximum: 100, default: 2 },
            passLatencyMs: { ...positive, default: 200 },
            probeTimeoutMs: { ...positive, default: 500 },
          },
        },
      },
    },
    degradation: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        cpuShedWatermark: { ...fraction, default: 0.95 },
        gpuFallbackWatermark: { ...fraction, default: 0.9 },
        cpuOnlyCpuWatermark: { ...fraction, default: 0.8 },
        sampleIntervalSeconds: { ...positive, maximum: 3600, default: 5 },
        retryAfterSeconds: { ...positiveInt, maximum: 3600, default: 5 },
      },
    },
    queue: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxInFlight: { ...positiveInt, maximum: 1024 },
        maxQueued: { type: 'integer', minimum: 0, maximum: 100000, default: QUEUE_DEFAULTS.maxQueued },
        maxQueueTimeMs: { ...positiveInt, maximum: 600000, default: QUEUE_DEFAULTS.maxQueueTimeMs },
      },
    },
    batching: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        maxBatchSize: { type: 'integer', minimum: 1, maximum: 4096, default: 32 },
        maxQueueDelayMicroseconds: { type: 'integer', minimum: 0, maximum: 1000000, default: 0 },
        preferredBatchSizes: { type: 'array', maxItems: 16, items: { type: 'integer', minimum: 1, maximum: 4096 }, default: [] },
      },
    },
    canary: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        envId: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
        treatmentPercent: { type: 'number', minimum: 0, maximum: 100 },
      },
    },
    audit: {
      type: 'object',
      additionalProperties: false,
      required: ['host'],
      properties: {
        protocol: { enum: ['tls', 'udp'], default: 'tls' },
        host: { type: 'string', minLength: 1, maxLength: 253 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        caSecretRef: { type: 'object' },
        caFile: filePath,
        appName: { type: 'string', pattern: '^[!-~]{1,48}$', default: 'paddle-sidecar' },
        bufferRecords: { type: 'integer', minimum: 1, maximum: 1000000, default: 10000 },
      },
    },
    otlp: {
      type: 'object',
      additionalProperties: false,
      required: ['endpoint'],
      properties: { endpoint: { type: 'string', pattern: '^https?://' } },
    },
    matrix: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        gpuMemoryBucketMB: { ...positiveInt, default: 1024 },
        gpuMemoryBuckets: { ...positiveInt, maximum: 1024, default: 80 },
        latencyBucketMs: { ...positiveInt, default: 5 },
        latencyBuckets: { ...positiveInt, maximum: 10000, default: 200 },
        seqLenEdges: {
          type: 'array',
          maxItems: 64,
          items: { ...positiveInt },
          default: [128, 256, 512, 1024, 2048, 4096],
        },
      },
    },
    reportIntervalSeconds: { ...positive, maximum: 86400, default: 30 },
    reportHeartbeatSeconds: { ...positive, maximum: 86400 },
    logLevel: { enum: ['debug', 'info', 'warn', 'error'], default: 'info' },
  },
} as const;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validate = ajv.compile(sidecarConfigSchema);

export type ConfigParseResult = { ok: true; config: SidecarConfig } | { ok: false; error: string };

function describeAjvErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'invalid config';
  return errors
    .slice(0, 5)
    .map((e) => `${e.instancePath === '' ? '(root)' : e.instancePath} ${e.message ?? 'is invalid'}`)
    .join('; ');
}

/** Parses and validates a config file's text; never throws. */
export function parseSidecarConfig(text: string): ConfigParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `config is not valid JSON: ${(err as Error).message}` };
  }
  // ajv fills defaults in place: work on a copy so the caller's object is never half-changed.
  const candidate: unknown = structuredClone(raw);
  if (!validate(candidate)) return { ok: false, error: `config rejected: ${describeAjvErrors(validate.errors)}` };
  const config = candidate as unknown as SidecarConfig;
  const semantic = checkConfigSemantics(config);
  if (semantic) return { ok: false, error: `config rejected: ${semantic}` };
  return { ok: true, config };
}

/** Rules JSON schema cannot say. Returns a message naming the problem, or undefined. */
function checkConfigSemantics(c: SidecarConfig): string | undefined {
  const edges = c.matrix.seqLenEdges;
  for (let i = 1; i < edges.length; i++) {
    if ((edges[i] ?? 0) <= (edges[i - 1] ?? 0)) return '/matrix/seqLenEdges must be strictly increasing';
  }
  if (c.auth.enabled && !c.auth.jwksFile && !c.auth.hmacSecretFile) {
    return '/auth needs jwksFile or hmacSecretFile when enabled';
  }
  const seen = new Set<string>();
  for (const p of c.auth.policies) {
    if (seen.has(p.path)) return `/auth/policies has path ${p.path} twice`;
    seen.add(p.path);
  }
  const coverage = checkPolicyCoverage(c.auth.policies, '/auth/policies');
  if (coverage) return coverage;
  if (c.breaker.treatmentFailureThreshold > c.breaker.failureThreshold) {
    return '/breaker/treatmentFailureThreshold must not be greater than failureThreshold (the treatment breaker is the stricter one)';
  }
  if (c.breaker.latencyMultiplier <= 1) return '/breaker/latencyMultiplier must be greater than 1';
  if (c.breaker.recovery.maxDelaySeconds < c.breaker.recovery.initialDelaySeconds) {
    return '/breaker/recovery/maxDelaySeconds must be >= initialDelaySeconds';
  }
  return undefined;
}

/** A config value for tests and for running without a file: every default, auth off. */
export function defaultSidecarConfig(modelName: string, overrides: Record<string, unknown> = {}): SidecarConfig {
  const result = parseSidecarConfig(JSON.stringify({ version: 1, model: { name: modelName }, auth: { enabled: false }, ...overrides }));
  if (!result.ok) throw new Error(result.error);
  return result.config;
}
