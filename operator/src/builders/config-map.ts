// The sidecar's config file (SidecarConfig), rendered into the <name>-config ConfigMap. The pods
// watch the mounted file and apply it without a restart (auth policy, rates, CORS, breaker,
// degradation, run queue, canary). Settings that the sidecar only reads at start (matrix layout, OTLP and
// audit targets) are hashed into the pod template so a change to them rolls the pods.

import { PATHS, type PaddleService, type SidecarConfig } from '../../../crds/src/index.js';
import { childMeta, childNames, hashOf, stableStringify, type ChildMeta } from './common.js';
import { must } from './resolved.js';

export const CONFIG_FILE_KEY = 'config.json';

export interface BuiltConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: ChildMeta;
  data: Record<string, string>;
}

export interface BreakerTuning {
  /** Fleet baseline P95 (ms) published to the pods; undefined until the fleet has one. */
  baselineP95Ms?: number;
  /**
   * Replicas the Deployment is asked for: each pod enforces 1/replicas of every policy's rate,
   * so the policy's numbers hold for the whole PaddleService. Absent, or 0: the whole rate.
   */
  replicas?: number;
}

/** Each pod's share of the service-wide rates (rounded to 6 digits, so the file stays stable). */
export function computeRateShare(replicas: number | undefined): number {
  return replicas !== undefined && replicas > 1 ? Math.round(1e6 / replicas) / 1e6 : 1;
}

/** Pure: the resolved SidecarConfig for a defaulted spec. */
export function buildSidecarConfig(ps: PaddleService, tuning: BreakerTuning = {}): SidecarConfig {
  const s = ps.spec;
  const auth = must(s.auth, 'spec.auth');
  const breaker = must(s.breaker, 'spec.breaker');
  const recovery = must(breaker.recovery, 'spec.breaker.recovery');
  const deg = must(s.degradation, 'spec.degradation');
  const obs = must(s.observability, 'spec.observability');
  const matrix = must(obs.matrix, 'spec.observability.matrix');
  const authEnabled = must(auth.enabled, 'spec.auth.enabled');

  const config: SidecarConfig = {
    version: 1,
    model: { name: s.model.name },
    auth: {
      enabled: authEnabled,
      ...(auth.issuer !== undefined ? { issuer: auth.issuer } : {}),
      ...(auth.audience !== undefined ? { audience: auth.audience } : {}),
      clockSkewSeconds: must(auth.clockSkewSeconds, 'spec.auth.clockSkewSeconds'),
      ...(auth.jwksSecretRef ? { jwksFile: PATHS.jwksFile } : {}),
      ...(auth.hmacSecretRef ? { hmacSecretFile: PATHS.hmacSecretFile } : {}),
      policies: must(auth.policies, 'spec.auth.policies').map((p) => ({ ...p })),
      rateShare: computeRateShare(tuning.replicas),
    },
    cors: { allowedOrigins: [...must(s.cors?.allowedOrigins, 'spec.cors.allowedOrigins')] },
    breaker: {
      latencyMultiplier: must(breaker.latencyMultiplier, 'spec.breaker.latencyMultiplier'),
      errorRateThreshold: must(breaker.errorRateThreshold, 'spec.breaker.errorRateThreshold'),
      consecutiveWindows: must(breaker.consecutiveWindows, 'spec.breaker.consecutiveWindows'),
      windowSeconds: must(breaker.windowSeconds, 'spec.breaker.windowSeconds'),
      failureThreshold: must(breaker.failureThreshold, 'spec.breaker.failureThreshold'),
      treatmentFailureThreshold: must(breaker.treatmentFailureThreshold, 'spec.breaker.treatmentFailureThreshold'),
      recovery: {
        initialDelaySeconds: must(recovery.initialDelaySeconds, 'spec.breaker.recovery.initialDelaySeconds'),
        maxDelaySeconds: must(recovery.maxDelaySeconds, 'spec.breaker.recovery.maxDelaySeconds'),
        maxBackoffAttempts: must(recovery.maxBackoffAttempts, 'spec.breaker.recovery.maxBackoffAttempts'),
        jitter: must(recovery.jitter, 'spec.breaker.recovery.jitter'),
        requiredPasses: must(recovery.requiredPasses, 'spec.breaker.recovery.requiredPasses'),
        passLatencyMs: must(recovery.passLatencyMs, 'spec.breaker.recovery.passLatencyMs'),
        probeTimeoutMs: must(recovery.probeTimeoutMs, 'spec.breaker.recovery.probeTimeoutMs'),
      },
      ...(tuning.baselineP95Ms !== undefined ? { baselineP95Ms: tuning.baselineP95Ms } : {}),
    },
    degradation: {
      cpuShedWatermark: must(deg.cpuShedWatermark, 'spec.degradation.cpuShedWatermark'),
      gpuFallbackWatermark: must(deg.gpuFallbackWatermark, 'spec.degradation.gpuFallbackWatermark'),
      sampleIntervalSeconds: must(deg.sampleIntervalSeconds, 'spec.degradation.sampleIntervalSeconds'),
      retryAfterSeconds: must(deg.retryAfterSeconds, 'spec.degradation.retryAfterSeconds'),
    },
    queue: {
      maxInFlight: s.queue?.maxInFlight ?? must(s.runtime?.cpuThreads, 'spec.runtime.cpuThreads'),
      maxQueued: must(s.queue?.maxQueued, 'spec.queue.maxQueued'),
      maxQueueTimeMs: must(s.queue?.maxQueueTimeMs, 'spec.queue.maxQueueTimeMs'),
    },
    batching: {
      enabled: must(s.batching?.enabled, 'spec.batching.enabled'),
      maxBatchSize: must(s.batching?.maxBatchSize, 'spec.batching.maxBatchSize'),
      maxQueueDelayMicroseconds: must(s.batching?.maxQueueDelayMicroseconds, 'spec.batching.maxQueueDelayMicroseconds'),
      preferredBatchSizes: [...(s.batching?.preferredBatchSizes ?? [])],
    },
    canary: { ...(s.canary ?? {}) },
    ...(obs.audit
      ? { audit: { ...obs.audit, ...(obs.audit.caSecretRef ? { caFile: PATHS.auditCaFile } : {}) } }
      : {}),
    ...(obs.otlp ? { otlp: { endpoint: obs.otlp.endpoint } } : {}),
    matrix: {
      gpuMemoryBucketMB: must(matrix.gpuMemoryBucketMB, 'spec.observability.matrix.gpuMemoryBucketMB'),
      gpuMemoryBuckets: must(matrix.gpuMemoryBuckets, 'spec.observability.matrix.gpuMemoryBuckets'),
      latencyBucketMs: must(matrix.latencyBucketMs, 'spec.observability.matrix.latencyBucketMs'),
      latencyBuckets: must(matrix.latencyBuckets, 'spec.observability.matrix.latencyBuckets'),
      seqLenEdges: [...must(matrix.seqLenEdges, 'spec.observability.matrix.seqLenEdges')],
    },
    reportIntervalSeconds: must(obs.reportIntervalSeconds, 'spec.observability.reportIntervalSeconds'),
    reportHeartbeatSeconds: must(obs.reportHeartbeatSeconds, 'spec.observability.reportHeartbeatSeconds'),
    logLevel: must(obs.logLevel, 'spec.observability.logLevel'),
  };
  if (config.audit && 'caSecretRef' in config.audit) {
    // The Secret reference is resolved into a mounted file; the pod never needs the name.
    const { caSecretRef: _drop, ...rest } = config.audit;
    config.audit = rest;
  }
  return config;
}

/** Hash of the settings the sidecar reads only at start: a change rolls the pods. */
export function computeRestartHash(config: SidecarConfig): string {
  return hashOf({ matrix: config.matrix, otlp: config.otlp ?? null, audit: config.audit ?? null });
}

export function buildConfigMap(ps: PaddleService, config: SidecarConfig): BuiltConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMeta(ps, childNames(ps.metadata.name ?? '').configMap, 'config'),
    data: { [CONFIG_FILE_KEY]: `${JSON.stringify(JSON.parse(stableStringify(config)), null, 2)}\n` },
  };
}
