// Folds the pods' reports (status.podReports.<pod>) into one fleet view: latency quantiles and
// baseline, the summed M[S,D,L] matrix, the slowest op types, the device in use, the model
// digest / key id agreement, breaker state and GPU memory utilization. Reports of pods that
// are gone, or that stopped reporting, are pruned.
//
// Rollouts: a report carries the pod template its pod runs (templateHash). Model verification,
// the serving pod count and the baseline come from the pods of the current template only; pods
// of an older template (by their report, else by their pod's template label) are a rollout that
// has not finished, counted apart (oldPods, oldServingPods). Traffic figures (latency quantiles,
// matrix, op profile, requests), degradation and breaker state count every live pod: they
// describe what clients get, whichever template served them.

import type {
  BreakerState,
  Device,
  LatencyStatus,
  MatrixCell,
  MatrixStatus,
  ModelStatus,
  OpProfileEntry,
  PaddleServiceSpec,
  PodReport,
} from '../../../crds/src/index.js';
import { reportHeartbeatMs } from '../../../crds/src/index.js';

export const TOP_OPS = 5;

export interface FoldInput {
  reports: Record<string, PodReport | null> | undefined;
  /** Names of the model pods that exist; undefined when unknown (no pruning of gone pods). */
  livePods: ReadonlySet<string> | undefined;
  /** The current pod template (the Deployment's serving.paddle.io/template-hash); undefined: unknown. */
  templateHash?: string;
  /** Live pods whose template label is not the current one (a rollout in progress). */
  oldPods?: ReadonlySet<string>;
  now: number;
  spec: PaddleServiceSpec;
  /**
   * When this operator first saw each pod's current report (its own clock, ms): a report is
   * fresh until staleAfterMs after the later of its reportedAt and that. A reconcile that comes
   * late (a long work queue, a slow API server) then does not judge a report that has just
   * arrived stale by the pod's timestamp, nor does a pod's clock running behind.
   */
  seenAt?: ReadonlyMap<string, number>;
}

/** The time a report counts as fresh from: the later of its reportedAt and when the operator first saw it. */
export function freshFrom(pod: string, report: PodReport, seenAt: ReadonlyMap<string, number> | undefined): number {
  const at = Date.parse(report.reportedAt);
  const seen = seenAt?.get(pod);
  return seen !== undefined && (!Number.isFinite(at) || seen > at) ? seen : at;
}

export interface VerdictCondition {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface FleetView {
  /** Reports that count: live pods, fresh. */
  reporting: string[];
  /** Report keys to delete from status.podReports, with why. */
  pruned: Array<{ pod: string; why: 'gone' | 'stale' | 'malformed' }>;
  /** Pods of the current template whose report says ready, self-check passed and (when required) the model verified. */
  servingPods: number;
  /** Live pods of an older template (by pod label or report), a rollout not finished yet. */
  oldPods: number;
  /** Of those, the ones whose report says they serve. */
  oldServingPods: number;
  latency?: LatencyStatus;
  matrix?: MatrixStatus;
  opProfile?: OpProfileEntry[];
  device: string;
  model?: ModelStatus;
  modelVerified: VerdictCondition;
  degraded: VerdictCondition;
  breaker: { state: BreakerState; trips: number; openPods: number };
  breakerOpen: VerdictCondition;
  /** Mean used/total GPU memory over reporting pods that have a GPU, 0..1. */
  gpuMemoryUtilization?: number;
  /** Requests seen by the reporting pods (cumulative). */
  requests: { total: number; errors: number };
}

/**
 * The pods' report cadence (the CRD's defaults when unset): each pod looks every interval and
 * writes a report that changed, and an unchanged one once per heartbeat (never more often than
 * the interval). A report older than the heartbeat plus two missed intervals (at least 30 s) is
 * stale: its pod stopped reporting (or cannot reach the API server).
 */
export function reportTiming(spec: PaddleServiceSpec): { intervalMs: number; heartbeatMs: number; staleMs: number } {
  const intervalSeconds = spec.observability?.reportIntervalSeconds ?? 15;
  const intervalMs = intervalSeconds * 1000;
  const heartbeatMs = reportHeartbeatMs(intervalSeconds, spec.observability?.reportHeartbeatSeconds ?? 60);
  return { intervalMs, heartbeatMs, staleMs: Math.max(30_000, heartbeatMs + 2 * intervalMs) };
}

/** A report older than this is stale (reportTiming). */
export function staleAfterMs(spec: PaddleServiceSpec): number {
  return reportTiming(spec).staleMs;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function isReport(r: unknown): r is PodReport {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Partial<PodReport>;
  return typeof o.reportedAt === 'string' && typeof o.ready === 'boolean' && typeof o.model === 'object' && o.model !== null;
}

function weightedMean(pairs: Array<[number, number]>): number | undefined {
  let sum = 0;
  let weight = 0;
  for (const [value, w] of pairs) {
    sum += value * w;
    weight += w;
  }
  return weight > 0 ? round2(sum / weight) : undefined;
}

function sameLayout(a: MatrixStatus, b: { gpuMemoryBucketMB: number; latencyBucketMs: number; seqLenEdges: number[] }): boolean {
  return (
    a.gpuMemoryBucketMB === b.gpuMemoryBucketMB &&
    a.latencyBucketMs === b.latencyBucketMs &&
    a.seqLenEdges.length === b.seqLenEdges.length &&
    a.seqLenEdges.every((e, i) => e === b.seqLenEdges[i])
  );
}

function countBy(values: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

function describeCounts(m: Map<string, number>): string {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([v, n]) => `${v} (${n} pod${n === 1 ? '' : 's'})`)
    .join(', ');
}

export function foldReports(input: FoldInput): FleetView {
  const { spec, now } = input;
  const staleMs = staleAfterMs(spec);
  const verificationRequired = spec.model.verification?.required !== false;
  const specDevice: Device = spec.runtime?.device ?? 'cpu';
  const pruned: FleetView['pruned'] = [];
  const live: Array<[string, PodReport]> = [];

  for (const [pod, report] of Object.entries(input.reports ?? {}).sort((a, b) => a[0].localeCompare(b[0]))) {
    if (report === null) continue;
    if (!isReport(report)) {
      pruned.push({ pod, why: 'malformed' });
      continue;
    }
    if (input.livePods && !input.livePods.has(pod)) {
      pruned.push({ pod, why: 'gone' });
      continue;
    }
    const at = freshFrom(pod, report, input.seenAt);
    if (!Number.isFinite(at) || now - at > staleMs) {
      pruned.push({ pod, why: 'stale' });
      continue;
    }
    live.push([pod, report]);
  }

  // Current template or not: the report's own hash when it has one, else its pod's label.
  const isOld = (pod: string, r: PodReport): boolean =>
    input.templateHash !== undefined && (r.templateHash !== undefined ? r.templateHash !== input.templateHash : input.oldPods?.has(pod) === true);
  const current = live.filter(([pod, r]) => !isOld(pod, r));
  const old = live.filter(([pod, r]) => isOld(pod, r));
  const serves = (r: PodReport): boolean => r.ready && r.selfCheckPassed && (!verificationRequired || r.model.verified === true);
  const serving = current.filter(([, r]) => serves(r));
  const oldPodNames = new Set([...(input.oldPods ?? []), ...old.map(([pod]) => pod)]);
  const requests = live.reduce(
    (acc, [, r]) => ({ total: acc.total + (r.requests?.total ?? 0), errors: acc.errors + (r.requests?.errors ?? 0) }),
    { total: 0, errors: 0 },
  );

  // Latency: per-pod quantiles weighted by the pod's sample count (pods with no samples: skipped).
  const withLatency = live.filter(([, r]) => typeof r.latency?.p95Ms === 'number' && (r.latency.samples ?? 1) > 0);
  const w = (r: PodReport) => r.latency.samples ?? 1;
  let latency: LatencyStatus | undefined;
  if (withLatency.length > 0) {
    const pick = (f: (l: LatencyStatus) => number | undefined) =>
      weightedMean(withLatency.flatMap(([, r]) => (typeof f(r.latency) === 'number' ? [[f(r.latency) as number, w(r)] as [number, number]] : [])));
    latency = {
      ...(pick((l) => l.p50Ms) !== undefined ? { p50Ms: pick((l) => l.p50Ms) } : {}),
      ...(pick((l) => l.p95Ms) !== undefined ? { p95Ms: pick((l) => l.p95Ms) } : {}),
      ...(pick((l) => l.p99Ms) !== undefined ? { p99Ms: pick((l) => l.p99Ms) } : {}),
      samples: withLatency.reduce((n, [, r]) => n + w(r), 0),
    };
    // The baseline describes the current template's pods (a new model may be slower or faster).
    const baseline = weightedMean(
      withLatency.flatMap(([pod, r]) => (typeof r.latency.baselineP95Ms === 'number' && !isOld(pod, r) ? [[r.latency.baselineP95Ms, w(r)] as [number, number]] : [])),
    );
    if (baseline !== undefined) latency.baselineP95Ms = baseline;
  }

  // Matrix: sum the cells of every report laid out like the spec's matrix.
  const layout = {
    gpuMemoryBucketMB: spec.observability?.matrix?.gpuMemoryBucketMB ?? 1024,
    latencyBucketMs: spec.observability?.matrix?.latencyBucketMs ?? 5,
    seqLenEdges: spec.observability?.matrix?.seqLenEdges ?? [],
  };
  let matrix: MatrixStatus | undefined;
  const cells = new Map<string, MatrixCell>();
  let total = 0;
  let matrixReports = 0;
  for (const [, r] of live) {
    if (!r.matrix || !Array.isArray(r.matrix.cells) || !sameLayout(r.matrix, layout)) continue;
    matrixReports++;
    for (const c of r.matrix.cells) {
      if (!(c.count > 0)) continue;
      const key = `${c.s}/${c.d}/${c.l}`;
      const cell = cells.get(key);
      if (cell) cell.count += c.count;
      else cells.set(key, { s: c.s, d: c.d, l: c.l, count: c.count });
      total += c.count;
    }
  }
  if (matrixReports > 0) {
    matrix = {
      ...layout,
      seqLenEdges: [...layout.seqLenEdges],
      total,
      cells: [...cells.values()].sort((a, b) => a.s - b.s || a.d - b.d || a.l - b.l),
    };
  }

  // Op profile: total time per op type across pods, the slowest TOP_OPS with their share.
  const ops = new Map<string, number>();
  for (const [, r] of live) for (const e of r.opProfile ?? []) ops.set(e.op, (ops.get(e.op) ?? 0) + e.totalMs);
  const opTotal = [...ops.values()].reduce((a, b) => a + b, 0);
  const opProfile =
    ops.size > 0
      ? [...ops.entries()]
          .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .slice(0, TOP_OPS)
          .map(([op, totalMs]) => ({ op, totalMs: round2(totalMs), share: opTotal > 0 ? round2(totalMs / opTotal) : 0 }))
      : undefined;

  // Device and degradation.
  const onCpu = live.filter(([, r]) => r.device === 'cpu' || r.mode === 'cpu-fallback');
  const shedding = live.filter(([, r]) => r.mode === 'shed');
  let device: string = specDevice;
  let degraded: VerdictCondition = { status: 'False', reason: 'Normal', message: 'no pod reports degraded service' };
  if (specDevice === 'gpu' && onCpu.length > 0) {
    device = 'cpu-fallback';
    degraded = {
      status: 'True',
      reason: 'CPUFallback',
      message: `${onCpu.length} of ${live.length} pods run on CPU: ${onCpu.map(([p]) => p).join(', ')}`,
    };
  } else if (shedding.length > 0) {
    degraded = { status: 'True', reason: 'LoadShedding', message: `${shedding.length} of ${live.length} pods shed load: ${shedding.map(([p]) => p).join(', ')}` };
  }

  // Model agreement and verification.
  let model: ModelStatus | undefined;
  let modelVerified: VerdictCondition;
  const refused = current.filter(([, r]) => verificationRequired && (r.model.verified === false || (!r.ready && r.model.verified !== true)));
  const digests = countBy(current.flatMap(([, r]) => (r.model.digest ? [r.model.digest] : [])));
  const keyIds = countBy(current.flatMap(([, r]) => (r.model.keyId ? [r.model.keyId] : [])));
  if (current.length === 0) {
    modelVerified =
      old.length > 0
        ? { status: 'Unknown', reason: 'AwaitingReports', message: `no pod of the current template has reported yet (${old.length} older pods still report)` }
        : { status: 'Unknown', reason: 'AwaitingReports', message: 'no pod has reported yet' };
  } else if (refused.length > 0) {
    const [pod, r] = refused[0] as [string, PodReport];
    modelVerified = {
      status: 'False',
      reason: 'VerificationFailed',
      message: `${refused.length} of ${current.length} pods refused the model; ${pod}: ${r.message ?? 'not verified'}`,
    };
  } else if (digests.size > 1) {
    modelVerified = { status: 'False', reason: 'DigestMismatch', message: `pods serve different model digests: ${describeCounts(digests)}` };
  } else if (keyIds.size > 1) {
    modelVerified = { status: 'False', reason: 'KeyMismatch', message: `pods verified with different keys: ${describeCounts(keyIds)}` };
  } else if (!verificationRequired) {
    modelVerified = { status: 'False', reason: 'VerificationDisabled', message: 'spec.model.verification.required is false' };
  } else {
    modelVerified = { status: 'True', reason: 'Verified', message: `all ${current.length} reporting pods verified the same signed model` };
  }
  const first = current[0]?.[1];
  if (first && digests.size <= 1) {
    const verifiedAt = current
      .map(([, r]) => r.model.verifiedAt)
      .filter((t): t is string => typeof t === 'string')
      .sort()[0];
    model = {
      ...(first.model.digest ? { digest: first.model.digest } : {}),
      ...(first.model.keyId && keyIds.size <= 1 ? { keyId: first.model.keyId } : {}),
      ...(first.model.algorithm ? { algorithm: first.model.algorithm } : {}),
      verified: modelVerified.status === 'True',
      ...(verifiedAt ? { verifiedAt } : {}),
      ...(first.model.backend ? { backend: first.model.backend } : {}),
      ...(first.model.backendVersion ? { backendVersion: first.model.backendVersion } : {}),
    };
  }

  // Breaker: the worst state across pods.
  const open = live.filter(([, r]) => r.breaker?.state === 'open');
  const halfOpen = live.filter(([, r]) => r.breaker?.state === 'half-open');
  const state: BreakerState = open.length > 0 ? 'open' : halfOpen.length > 0 ? 'half-open' : 'closed';
  const trips = live.reduce((n, [, r]) => n + (r.breaker?.trips ?? 0), 0);
  let breakerOpen: VerdictCondition;
  if (open.length > 0) breakerOpen = { status: 'True', reason: 'Open', message: `breaker open on ${open.length} of ${live.length} pods: ${open.map(([p]) => p).join(', ')}` };
  else if (halfOpen.length > 0) breakerOpen = { status: 'True', reason: 'HalfOpen', message: `breaker probing recovery on ${halfOpen.length} of ${live.length} pods` };
  else breakerOpen = { status: 'False', reason: 'Closed', message: 'breakers closed' };

  const gpuUtils = live.flatMap(([, r]) => (r.gpu && r.gpu.memoryTotalBytes > 0 ? [r.gpu.memoryUsedBytes / r.gpu.memoryTotalBytes] : []));
  const gpuMemoryUtilization = gpuUtils.length > 0 ? Math.round((gpuUtils.reduce((a, b) => a + b, 0) / gpuUtils.length) * 1000) / 1000 : undefined;

  return {
    reporting: live.map(([p]) => p),
    pruned,
    servingPods: serving.length,
    oldPods: oldPodNames.size,
    oldServingPods: old.filter(([, r]) => serves(r)).length,
    ...(latency ? { latency } : {}),
    ...(matrix ? { matrix } : {}),
    ...(opProfile ? { opProfile } : {}),
    device,
    ...(model ? { model } : {}),
    modelVerified,
    degraded,
    breaker: { state, trips, openPods: open.length },
    breakerOpen,
    ...(gpuMemoryUtilization !== undefined ? { gpuMemoryUtilization } : {}),
    requests,
  };
}
