// The pod report: built from the sidecar's state (pure), then merge-patched into
// status.podReports.<podName> of the PaddleService through the status subresource.

import { HttpMethod, KubeConfig, PatchStrategy } from '@kubernetes/client-node';
import { KubeClient, objectPath, type ResourceRef } from '../../operator/src/kube-client.js';
import { GROUP, PLURAL, VERSION, type BreakerState, type Device, type OpProfileEntry, type PodReport, type ServingMode } from '../../crds/src/types.js';
import type { ModelInfoLike, PredictorStatsLike } from './predictor.js';
import { quantile } from './quantiles.js';
import type { MatrixStatus } from '../../crds/src/types.js';

export interface PodReportInput {
  now: Date;
  ready: boolean;
  selfCheckPassed: boolean;
  info: ModelInfoLike | undefined;
  device: Device;
  mode: ServingMode;
  latenciesMs: number[];
  baselineP95Ms: number | undefined;
  requests: { total: number; errors: number };
  matrix: MatrixStatus;
  stats: PredictorStatsLike | undefined;
  breaker: { state: BreakerState; trips: number; treatmentState: BreakerState };
  gpu?: { memoryUsedBytes: number; memoryTotalBytes: number; utilization?: number };
  message?: string;
}

const round = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 1000) / 1000);

/** The slowest op types by total time, with their share of the total (at most `limit`). */
export function computeOpProfile(opTimesMs: Record<string, number>, limit = 10): OpProfileEntry[] {
  const entries = Object.entries(opTimesMs).filter(([, v]) => Number.isFinite(v) && v >= 0);
  const total = entries.reduce((a, [, v]) => a + v, 0);
  return entries
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([op, totalMs]) => ({ op, totalMs: round(totalMs) ?? 0, ...(total > 0 ? { share: round(totalMs / total) ?? 0 } : {}) }));
}

export function buildPodReport(i: PodReportInput): PodReport {
  const p = (q: number): number | undefined => round(quantile(i.latenciesMs, q));
  const latency: PodReport['latency'] = { samples: i.latenciesMs.length };
  const p50 = p(0.5);
  const p95 = p(0.95);
  const p99 = p(0.99);
  if (p50 !== undefined) latency.p50Ms = p50;
  if (p95 !== undefined) latency.p95Ms = p95;
  if (p99 !== undefined) latency.p99Ms = p99;
  const baseline = round(i.baselineP95Ms);
  if (baseline !== undefined) latency.baselineP95Ms = baseline;
  const model: PodReport['model'] = {};
  if (i.info) {
    model.digest = i.info.digest;
    model.verified = i.info.verified;
    model.backend = i.info.backend;
    model.backendVersion = i.info.backendVersion;
    if (i.info.keyId) model.keyId = i.info.keyId;
    if (i.info.algorithm) model.algorithm = i.info.algorithm;
    if (i.info.verifiedAt) model.verifiedAt = i.info.verifiedAt;
  }
  return {
    reportedAt: i.now.toISOString(),
    ready: i.ready,
    selfCheckPassed: i.selfCheckPassed,
    model,
    device: i.device,
    mode: i.mode,
    latency,
    requests: { ...i.requests },
    matrix: i.matrix,
    opProfile: computeOpProfile(i.stats?.opTimesMs ?? {}),
    breaker: { state: i.breaker.state, trips: i.breaker.trips, treatmentState: i.breaker.treatmentState },
    ...(i.gpu ? { gpu: i.gpu } : {}),
    ...(i.message ? { message: i.message } : {}),
  };
}

export interface ReportTarget {
  namespace: string;
  serviceName: string;
  podName: string;
  /** The pod template this pod runs (env ENV.templateHash, from its pod label); stamped on every report. */
  templateHash?: string;
}

/** The merge-patch body: only this pod's entry under status.podReports, stamped with its pod template. */
export function buildReportPatch(podName: string, report: PodReport, templateHash?: string): { status: { podReports: Record<string, PodReport> } } {
  return { status: { podReports: { [podName]: templateHash ? { ...report, templateHash } : report } } };
}

/**
 * Sends the reports over ONE keep-alive connection to the API server (the operator's KubeClient,
 * auth read from the kubeconfig at each request, so a rotated service-account token is picked
 * up). client-node's own transport builds a new undici dispatcher for every request: each report
 * (every reportIntervalSeconds, per pod) opened a new TCP + TLS connection. Measured against the
 * local control plane, 200 reports in a row: about 7.6 -> 1.6 ms of the sidecar's CPU, 15 -> 8 ms
 * of wall time and 10.3 -> 8.4 ms of the API server's CPU per report.
 */
/** The PaddleService resource (the operator's RESOURCES.paddleService, from the CRD's own names). */
const PADDLE_SERVICES: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL, namespaced: true };

export class PodReportPatcher {
  private readonly kube: KubeClient;
  private readonly path: string;
  constructor(
    kubeConfig: KubeConfig,
    private readonly target: ReportTarget,
  ) {
    this.kube = new KubeClient(kubeConfig, { maxConnections: 1 });
    this.path = objectPath(PADDLE_SERVICES, target.namespace, target.serviceName, 'status');
  }

  /** Loads in-cluster credentials when present, else $KUBECONFIG / ~/.kube/config. */
  static kubeConfigFromEnvironment(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return kc;
  }

  /** Merge-patches this pod's entry; rejects with the API server's status and message on an error answer. */
  async patch(report: PodReport): Promise<void> {
    await this.kube.request(HttpMethod.PATCH, this.path, 'patch', {
      body: buildReportPatch(this.target.podName, report, this.target.templateHash),
      contentType: PatchStrategy.MergePatch,
      // Only the resourceVersion of the answer would be read: none of it is.
      metadataOnly: true,
    });
  }

  /** Closes the connection (a later patch opens a new one). */
  close(): void {
    this.kube.close();
  }
}
