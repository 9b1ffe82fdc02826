import assert from 'node:assert/strict';
import { applyDefaults, type PaddleServiceSpec } from '../src/index.js';

// The checklist's numbers (shared/seed/CHECKLIST.md), written out here literally so a change
// to a schema default shows up as a failing test rather than a silent change of behaviour.
describe('applyDefaults', () => {
  const minimal: PaddleServiceSpec = {
    model: { name: 'm', source: { pvc: { claimName: 'models' } }, verification: { publicKeySecretRef: { name: 'k' } } },
    tls: { issuerRef: { name: 'ca' } },
    auth: { hmacSecretRef: { name: 't' } },
  };
  const spec = applyDefaults(minimal);

  it('fills the runtime defaults (CHECKLIST 1.2, 1.4, 1.5)', () => {
    assert.deepEqual(spec.runtime, { imagePullPolicy: 'IfNotPresent', backend: 'builtin', device: 'cpu', cpuThreads: 1, maxMemoryMB: 2048 });
    assert.equal(spec.replicas, 1);
    assert.equal(spec.model.format, 'auto');
    assert.deepEqual(spec.model.verification, { required: true, publicKeySecretRef: { name: 'k', key: 'public.pem' } });
  });

  it('fills the auth policy table with 60/20/5 calls per minute (CHECKLIST 2.1), OIP inference beside /v1/predict (default-deny)', () => {
    assert.deepEqual(spec.auth, {
      enabled: true,
      hmacSecretRef: { name: 't', key: 'hmac.key' },
      clockSkewSeconds: 30,
      policies: [
        { path: '/v2/models/{model}/infer', domain: 'model_inference', callsPerMinute: 60 },
        { path: '/v1/predict', domain: 'model_inference', callsPerMinute: 60 },
        { path: '/v1/encrypt_input', domain: 'data_protection', callsPerMinute: 20 },
        { path: '/v1/export_model', domain: 'model_admin', callsPerMinute: 5 },
      ],
    });
  });

  it('fills the breaker: 1.8x, 5 %, 3 windows of 10 s, 10 vs 5 failures; recovery 1..60 s, 2 passes, 200/500 ms (CHECKLIST 4.1, 4.3, 4.4)', () => {
    assert.deepEqual(spec.breaker, {
      latencyMultiplier: 1.8,
      errorRateThreshold: 0.05,
      consecutiveWindows: 3,
      windowSeconds: 10,
      failureThreshold: 10,
      treatmentFailureThreshold: 5,
      recovery: { initialDelaySeconds: 1, maxDelaySeconds: 60, maxBackoffAttempts: 5, jitter: 0.1, requiredPasses: 2, passLatencyMs: 200, probeTimeoutMs: 500 },
    });
  });

  it('fills the degradation watermarks 0.95 / 0.9 (CHECKLIST 4.2)', () => {
    assert.deepEqual(spec.degradation, { cpuShedWatermark: 0.95, gpuFallbackWatermark: 0.9, sampleIntervalSeconds: 5, retryAfterSeconds: 5 });
  });

  it('fills TLS, CORS, canary, resources and the matrix layout (5 ms latency buckets, CHECKLIST 3.2)', () => {
    assert.deepEqual(spec.tls, { enabled: true, mutual: false, issuerRef: { name: 'ca', kind: 'Issuer', group: 'cert-manager.io' } });
    assert.deepEqual(spec.cors, { allowedOrigins: [] });
    assert.deepEqual(spec.queue, { maxQueued: 128, maxQueueTimeMs: 1000 }, 'maxInFlight: runtime.cpuThreads, resolved by the operator');
    assert.deepEqual(spec.canary, { treatmentPercent: 0 });
    assert.deepEqual(spec.resources, { gpu: { count: 1, resourceName: 'nvidia.com/gpu' } });
    assert.deepEqual(spec.observability, {
      reportIntervalSeconds: 15,
      reportHeartbeatSeconds: 60,
      logLevel: 'info',
      matrix: { gpuMemoryBucketMB: 1024, gpuMemoryBuckets: 128, latencyBucketMs: 5, latencyBuckets: 200, seqLenEdges: [128, 256, 512, 1024, 2048, 4096] },
    });
  });

  it('keeps values the user set and does not touch the input', () => {
    const input: PaddleServiceSpec = { ...structuredClone(minimal), runtime: { cpuThreads: 4 }, breaker: { latencyMultiplier: 2.5 } };
    const before = structuredClone(input);
    const out = applyDefaults(input);
    assert.equal(out.runtime?.cpuThreads, 4);
    assert.equal(out.runtime?.maxMemoryMB, 2048);
    assert.equal(out.breaker?.latencyMultiplier, 2.5);
    assert.equal(out.breaker?.consecutiveWindows, 3);
    assert.deepEqual(input, before);
  });

  it('defaults autoscaling only when it is present', () => {
    assert.equal(spec.autoscaling, undefined);
    const scaled = applyDefaults({ ...minimal, autoscaling: { maxReplicas: 4, targetP95Ms: 30 } });
    assert.deepEqual(scaled.autoscaling, { maxReplicas: 4, targetP95Ms: 30, minReplicas: 1, maxGpuMemoryUtilization: 0.9, scaleDownStabilizationSeconds: 300 });
  });

  it('is idempotent', () => {
    assert.deepEqual(applyDefaults(spec), spec);
  });
});
