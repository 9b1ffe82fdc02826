// The pod report: built from the sidecar's state (pure), then merge-patched into
// status.podReports.<podName> of the PaddleService through the status subresource.

import { HttpMethod, KubeConfig, PatchStrategy } from '@kubernetes/client-node';
import { KubeClient, objectPath, type ResourceRef } from '../../operator/src/kube-client.js';
import { GROUP, PLURAL, VERSION, type BreakerState, type Device, type OpProfileEntry, type PodReport, type ServingMode } from '../../crds/src/types.js';
import type { ModelInfoLike, PredictorStatsLike } from './predictor.js';
import { quantile } from './quantiles.js';
import type { MatrixStatus } from '../../crds/src/types.js';
import { reportHeartbeatMs } from '../../crds/src/pod-contract.js';

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

/**
 * Which reports are worth a write. A pod's report changes when it serves (counts, latency, the
 * matrix) or its state moves (ready, breaker, mode); an idle pod's does not. Each report goes
 * into the PaddleService's status, and each such write costs the API server more than most writes
 * (the status subresource of a CRD: about 8-10 ms of CPU measured on the local control plane) and
 * wakes the operator: at 1000 idle pods, one report per pod every 15 s was the largest write
 * load on the API server. So a report equal to the last one written (all but reportedAt) waits
 * until heartbeatMs have passed since that write; the operator's staleness window follows the
 * heartbeat (operator/src/status/fleet.ts, reportTiming).
 */
class ReportGate {
  #lastContent: string | undefined;
  #lastWrittenAt = -Infinity;

  /** What the report says, but for when it was built. */
  static content(report: PodReport): string {
    const { reportedAt: _at, ...rest } = report;
    return JSON.stringify(rest);
  }

  /** Whether `report` should be written at `nowMs`; `content` goes back to written() after the write. */
  decide(report: PodReport, nowMs: number, heartbeatMs: number): { write: boolean; content: string } {
    const content = ReportGate.content(report);
    const write = content !== this.#lastContent || nowMs - this.#lastWrittenAt >= heartbeatMs;
    return { write, content };
  }

  /** A write of that content succeeded at `nowMs` (a failed write records nothing: the next tick writes again). */
  written(content: string, nowMs: number): void {
    this.#lastContent = content;
    this.#lastWrittenAt = nowMs;
  }
}

export type ReportResult = 'ok' | 'error' | 'unchanged';

export interface PodReporterOptions {
  build: () => PodReport;
  patch: (report: PodReport) => Promise<void>;
  /** The cadence now (the config is hot-reloaded); no heartbeat: every interval. */
  cadence: () => { intervalSeconds: number; heartbeatSeconds?: number | undefined };
  /** After each tick: a write (ok / error, with the error) or a report left unwritten. */
  onResult: (result: ReportResult, err?: unknown) => void;
  now?: () => number;
}

/**
 * The pod's report loop: every interval it builds the report and writes it through the gate;
 * the next tick is an interval after this one finished, so a slow API server never gets two
 * reports of one pod at once.
 */
export class PodReporter {
  readonly #gate = new ReportGate();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(private readonly o: PodReporterOptions) {
    this.#now = o.now ?? Date.now;
  }

  /** One round: build, decide, write when due. */
  async tick(): Promise<ReportResult> {
    const { intervalSeconds, heartbeatSeconds } = this.o.cadence();
    const report = this.o.build();
    const at = this.#now();
    const { write, content } = this.#gate.decide(report, at, reportHeartbeatMs(intervalSeconds, heartbeatSeconds));
    if (!write) {
      this.o.onResult('unchanged');
      return 'unchanged';
    }
    try {
      await this.o.patch(report);
    } catch (err) {
      this.o.onResult('error', err);
      return 'error';
    }
    this.#gate.written(content, at);
    this.o.onResult('ok');
    return 'ok';
  }

  start(): void {
    void this.#loop();
  }

  /** No more reports (shutdown): the pod is on its way out. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #loop(): Promise<void> {
    if (this.#stopped) return;
    await this.tick();
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#loop(), this.o.cadence().intervalSeconds * 1000);
  }
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
