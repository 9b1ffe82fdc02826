// computeStatus: the operator-owned part of PaddleService status, from what was observed
// (pure). computeStatusPatch: the merge patch that takes the current status there, or
// undefined when nothing changed (so a no-op reconcile writes nothing).

import type { V1Deployment } from '@kubernetes/client-node';
import type {
  AutoscalingStatus,
  BreakerThresholds,
  Condition,
  ConditionStatus,
  PaddleService,
  PaddleServiceStatus,
} from '../../../crds/src/index.js';
import { stableStringify } from '../builders/common.js';
import { mergeConditions, type ConditionInput } from './conditions.js';
import type { FleetView } from './fleet.js';

/** A problem found before or while applying that decides Ready (InvalidSpec, a missing Secret...). */
export interface Blocker {
  reason: string;
  message: string;
}

export interface CertificateLike {
  status?: { conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }> };
}

export interface StatusInputs {
  ps: PaddleService;
  now: number;
  desiredReplicas: number;
  deployment?: V1Deployment;
  /** undefined: TLS disabled. */
  certificate?: { wanted: true; object?: CertificateLike; crdMissing?: boolean } | { wanted: false };
  fleet: FleetView;
  blocker?: Blocker;
  url?: string;
  selector?: string;
  autoscaling?: AutoscalingStatus;
  breakerThresholds?: BreakerThresholds;
  breakerTunedAt?: string;
  /** The ModelFetched condition (model-fetch.ts); undefined for sources the pods do not download. */
  modelFetched?: ConditionInput;
  /** HorizontalPodAutoscalers whose scaleTargetRef is this PaddleService (names). */
  hpas?: readonly string[];
}

/** Status fields the operator owns (everything but podReports, which the sidecars write). */
export const OPERATOR_STATUS_FIELDS = [
  'observedGeneration',
  'conditions',
  'replicas',
  'readyReplicas',
  'selector',
  'url',
  'replicasSummary',
  'model',
  'device',
  'latency',
  'matrix',
  'opProfile',
  'breaker',
  'autoscaling',
] as const satisfies ReadonlyArray<keyof PaddleServiceStatus>;

function availableCondition(d: V1Deployment | undefined, desired: number): ConditionInput {
  if (!d) return { type: 'Available', status: 'False', reason: 'DeploymentMissing', message: 'the Deployment does not exist yet' };
  // Nothing can serve at zero replicas: not available, and that is what was asked for.
  if (desired === 0) {
    const left = d.status?.replicas ?? 0;
    return { type: 'Available', status: 'False', reason: 'ScaledToZero', message: left > 0 ? `scaled to zero: ${left} pods still stopping` : 'scaled to zero: no pod serves' };
  }
  const available = d.status?.availableReplicas ?? 0;
  const cond = d.status?.conditions?.find((c) => c.type === 'Available');
  const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return { type: 'Available', status: 'False', reason: 'ProgressDeadlineExceeded', message: progressing.message ?? 'rollout stalled' };
  }
  if (cond?.status === 'True' && available >= desired) {
    return { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: `${available}/${desired} replicas available` };
  }
  return { type: 'Available', status: 'False', reason: 'ReplicasUnavailable', message: `${available}/${desired} replicas available` };
}

function certificateCondition(c: StatusInputs['certificate']): ConditionInput {
  if (!c || !c.wanted) return { type: 'CertificateReady', status: 'True', reason: 'TLSDisabled', message: 'spec.tls.enabled is false: serving plain HTTP' };
  if (c.crdMissing) {
    return { type: 'CertificateReady', status: 'False', reason: 'CertManagerMissing', message: 'cert-manager Certificate API (cert-manager.io/v1) is not installed' };
  }
  if (!c.object) return { type: 'CertificateReady', status: 'False', reason: 'CertificateMissing', message: 'the Certificate does not exist yet' };
  const ready = c.object.status?.conditions?.find((x) => x.type === 'Ready');
  if (!ready) return { type: 'CertificateReady', status: 'Unknown', reason: 'Pending', message: 'cert-manager has not reported on the Certificate yet' };
  return {
    type: 'CertificateReady',
    status: ready.status === 'True' ? 'True' : 'False',
    reason: ready.reason ?? (ready.status === 'True' ? 'Ready' : 'NotReady'),
    message: ready.message ?? '',
  };
}

/** spec.autoscaling next to an HPA on the scale subresource: two controllers would fight over replicas. */
function autoscalingConflictCondition(ps: PaddleService, hpas: readonly string[]): ConditionInput {
  const list = hpas.map((h) => `HorizontalPodAutoscaler ${h}`).join(', ');
  if (hpas.length === 0) {
    return { type: 'AutoscalingConflict', status: 'False', reason: 'NoConflict', message: 'no HorizontalPodAutoscaler targets this PaddleService' };
  }
  if (!ps.spec.autoscaling) {
    return { type: 'AutoscalingConflict', status: 'False', reason: 'ExternalAutoscaler', message: `${list} drives spec.replicas (spec.autoscaling is not set)` };
  }
  return {
    type: 'AutoscalingConflict',
    status: 'True',
    reason: 'HorizontalPodAutoscaler',
    message: `${list} targets this PaddleService, which also sets spec.autoscaling: the operator follows spec.autoscaling and ignores spec.replicas, so the HPA's changes have no effect; remove the HPA or spec.autoscaling`,
  };
}

export function computeStatus(inp: StatusInputs): PaddleServiceStatus {
  const { ps, fleet, desiredReplicas } = inp;
  const generation = ps.metadata.generation;
  const available = availableCondition(inp.deployment, desiredReplicas);
  const cert = certificateCondition(inp.certificate);
  const modelVerified: ConditionInput = { type: 'ModelVerified', ...fleet.modelVerified };
  const degraded: ConditionInput = { type: 'Degraded', ...fleet.degraded };
  const breaker: ConditionInput = { type: 'BreakerOpen', ...fleet.breakerOpen };
  const verificationRequired = ps.spec.model.verification?.required !== false;
  const conflict = autoscalingConflictCondition(ps, inp.hpas ?? []);

  let ready: ConditionInput;
  const notReady = (reason: string, message: string): ConditionInput => ({ type: 'Ready', status: 'False', reason, message });
  const oldServing = fleet.oldServingPods;
  if (inp.blocker) ready = notReady(inp.blocker.reason, inp.blocker.message);
  else if (desiredReplicas === 0 && inp.deployment) {
    // Asked for zero and got it: nothing is wrong, nothing serves (Available says so).
    const left = inp.deployment.status?.replicas ?? 0;
    ready = { type: 'Ready', status: 'True', reason: 'ScaledToZero', message: left > 0 ? `scaled to zero: ${left} pods still stopping` : 'scaled to zero: no pod serves until replicas are raised' };
  } else if (inp.modelFetched?.status === 'False') ready = notReady(inp.modelFetched.reason, inp.modelFetched.message);
  else if (verificationRequired && modelVerified.status === 'False') ready = notReady('ModelNotVerified', modelVerified.message);
  else if (available.status !== 'True') ready = notReady('DeploymentUnavailable', available.message);
  else if (cert.status !== 'True') ready = notReady('CertificateNotReady', cert.message || cert.reason);
  else if (fleet.servingPods < desiredReplicas && fleet.oldPods > 0 && fleet.servingPods + oldServing >= 1) {
    // A rollout: old pods keep serving until new ones are ready (maxUnavailable 0).
    ready = {
      type: 'Ready',
      status: 'True',
      reason: 'RollingOut',
      message: `rolling out: ${fleet.servingPods}/${desiredReplicas} pods of the current template serve, ${oldServing} of ${fleet.oldPods} older pods still serve`,
    };
  } else if (fleet.servingPods < desiredReplicas) {
    ready = notReady(
      'AwaitingVerifiedPods',
      `${fleet.servingPods}/${desiredReplicas} pods report a ${verificationRequired ? 'verified model and a ' : ''}passing self-check`,
    );
  } else {
    ready = {
      type: 'Ready',
      status: 'True',
      reason: 'Serving',
      message: `${fleet.servingPods}/${desiredReplicas} pods serve a ${verificationRequired ? 'verified ' : ''}model`,
    };
  }

  const conditions = mergeConditions(
    inp.ps.status?.conditions,
    [ready, available, cert, modelVerified, ...(inp.modelFetched ? [inp.modelFetched] : []), degraded, breaker, conflict],
    generation,
    new Date(inp.now).toISOString(),
  );
  const readyReplicas = inp.deployment?.status?.readyReplicas ?? 0;
  const status: PaddleServiceStatus = {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions,
    replicas: inp.deployment?.status?.replicas ?? 0,
    readyReplicas,
    ...(inp.selector ? { selector: inp.selector } : {}),
    ...(inp.url ? { url: inp.url } : {}),
    replicasSummary: `${readyReplicas}/${desiredReplicas}`,
    ...(fleet.model ? { model: fleet.model } : {}),
    device: fleet.device,
    ...(fleet.latency ? { latency: fleet.latency } : {}),
    ...(fleet.matrix ? { matrix: fleet.matrix } : {}),
    ...(fleet.opProfile ? { opProfile: fleet.opProfile } : {}),
    breaker: {
      state: fleet.breaker.state,
      trips: fleet.breaker.trips,
      openPods: fleet.breaker.openPods,
      ...(inp.breakerThresholds ? { thresholds: inp.breakerThresholds } : {}),
      ...(inp.breakerTunedAt ? { tunedAt: inp.breakerTunedAt } : {}),
    },
    ...(inp.autoscaling ? { autoscaling: inp.autoscaling } : {}),
  };
  return status;
}

/**
 * The JSON merge patch for the status subresource, or undefined when the operator-owned fields
 * already equal `desired` and no report needs pruning. Fields the operator owns but no longer
 * sets are removed (null); pruned pod reports are removed; other reports are left alone.
 */
export function computeStatusPatch(
  current: PaddleServiceStatus | undefined,
  desired: PaddleServiceStatus,
  prunedReports: readonly string[],
): { status: Record<string, unknown> } | undefined {
  const patch: Record<string, unknown> = {};
  const cur = (current ?? {}) as Record<string, unknown>;
  const want = desired as Record<string, unknown>;
  for (const field of OPERATOR_STATUS_FIELDS) {
    const a = cur[field];
    const b = want[field];
    if (b === undefined) {
      if (a !== undefined && a !== null) patch[field] = null;
    } else if (stableStringify(a) !== stableStringify(b)) {
      // Objects are replaced wholesale: null out keys the desired value dropped.
      patch[field] = mergeValue(a, b);
    }
  }
  const reports = current?.podReports ?? {};
  const prune = prunedReports.filter((p) => p in reports);
  if (prune.length > 0) patch.podReports = Object.fromEntries(prune.map((p) => [p, null]));
  return Object.keys(patch).length > 0 ? { status: patch } : undefined;
}

/** A merge-patch value that turns `from` into exactly `to` (nested keys absent in `to` -> null). */
function mergeValue(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return to;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(from)) if (!(key in to)) out[key] = null;
  for (const [key, value] of Object.entries(to)) {
    if (stableStringify(from[key]) !== stableStringify(value)) out[key] = mergeValue(from[key], value);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The Ready condition's status/reason, for Events on transitions. */
export function readyOf(conditions: readonly Condition[] | undefined): { status: ConditionStatus; reason: string } | undefined {
  const c = conditions?.find((x) => x.type === 'Ready');
  return c ? { status: c.status, reason: c.reason } : undefined;
}
