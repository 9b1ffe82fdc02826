// Synthetic pod reports for status and autoscaling tests.

import type { PodReport } from '../../crds/src/index.js';

export const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

export function report(overrides: Partial<PodReport> = {}): PodReport {
  return {
    reportedAt: new Date(NOW - 5_000).toISOString(),
    ready: true,
    selfCheckPassed: true,
    model: { digest: 'sha256:aaa', keyId: 'k1', algorithm: 'Ed25519', verified: true, verifiedAt: '2026-01-01T11:00:00.000Z', backend: 'builtin', backendVersion: '1.0' },
    device: 'gpu',
    mode: 'normal',
    latency: { p50Ms: 10, p95Ms: 20, p99Ms: 30, baselineP95Ms: 18, samples: 100 },
    requests: { total: 100, errors: 1 },
    matrix: { gpuMemoryBucketMB: 1024, latencyBucketMs: 5, seqLenEdges: [128, 256, 512, 1024, 2048], total: 3, cells: [{ s: 0, d: 2, l: 0, count: 3 }] },
    opProfile: [
      { op: 'matmul', totalMs: 60 },
      { op: 'relu', totalMs: 10 },
    ],
    breaker: { state: 'closed', trips: 0 },
    gpu: { memoryUsedBytes: 40, memoryTotalBytes: 100 },
    ...overrides,
  };
}
