// Replica decisions from the fleet view (pure). With spec.autoscaling:
// - scale UP at once when fleet P95 > targetP95Ms or GPU memory utilization > its maximum,
//   proportionally to the overshoot (at least +1);
// - scale DOWN only when the fleet has stayed comfortably below target (P95 < 70 % of target
//   and GPU memory < 70 % of its maximum) for the whole stabilization window, one proportional
//   step at a time, each step waiting a fresh window;
// - always within [minReplicas, maxReplicas]; without metrics, hold.
// Without spec.autoscaling, spec.replicas (the scale subresource) rules.

import type { PaddleServiceSpec } from '../../crds/src/index.js';
import type { BaselineTuning } from './builders/common.js';

/** Below this fraction of the targets the fleet is "comfortably below" (hysteresis band). */
export const SCALE_DOWN_HEADROOM = 0.7;

export interface AutoscaleInput {
  spec: PaddleServiceSpec;
  /** Replicas currently asked of the Deployment (status.autoscaling.desiredReplicas or the Deployment's). */
  current: number;
  p95Ms?: number;
  gpuMemoryUtilization?: number;
  now: number;
  /** When the fleet was first seen below the scale-down band (in-memory state of the caller). */
  belowSince?: number;
}

export interface AutoscaleDecision {
  replicas: number;
  reason: string;
  /** State to pass back next time. */
  belowSince?: number;
  /** When set, re-evaluate after this many ms even if nothing else happens (window ends). */
  recheckAfterMs?: number;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

export function computeDesiredReplicas(input: AutoscaleInput): AutoscaleDecision {
  const a = input.spec.autoscaling;
  if (!a) {
    const replicas = input.spec.replicas ?? 1;
    return { replicas, reason: `spec.replicas is ${replicas} (no autoscaling)` };
  }
  const min = a.minReplicas ?? 1;
  const max = a.maxReplicas;
  const maxGpu = a.maxGpuMemoryUtilization ?? 0.9;
  const windowMs = (a.scaleDownStabilizationSeconds ?? 300) * 1000;
  const current = clamp(input.current, min, max);
  const { p95Ms, gpuMemoryUtilization: gpu, now } = input;

  if (input.current < min) return { replicas: min, reason: `raised to minReplicas ${min}` };
  if (input.current > max) return { replicas: max, reason: `lowered to maxReplicas ${max}` };
  if (p95Ms === undefined && gpu === undefined) {
    return { replicas: current, reason: 'holding: no latency or GPU memory reports yet' };
  }

  const latencyRatio = p95Ms !== undefined ? p95Ms / a.targetP95Ms : 0;
  const gpuRatio = gpu !== undefined ? gpu / maxGpu : 0;
  const pressure = Math.max(latencyRatio, gpuRatio);
  const why =
    latencyRatio >= gpuRatio
      ? `fleet P95 ${p95Ms} ms vs target ${a.targetP95Ms} ms`
      : `GPU memory utilization ${gpu} vs max ${maxGpu}`;

  if (pressure > 1) {
    const wanted = Math.max(current + 1, Math.ceil(current * pressure));
    const replicas = clamp(wanted, min, max);
    if (replicas === current) return { replicas, reason: `at maxReplicas ${max}: ${why}` };
    return { replicas, reason: `scaled up from ${current}: ${why}` };
  }

  if (pressure < SCALE_DOWN_HEADROOM && current > min) {
    const since = input.belowSince ?? now;
    const elapsed = now - since;
    if (elapsed < windowMs) {
      return {
        replicas: current,
        reason: `below target for ${Math.floor(elapsed / 1000)} s of a ${windowMs / 1000} s stabilization window: ${why}`,
        belowSince: since,
        recheckAfterMs: windowMs - elapsed,
      };
    }
    const wanted = Math.min(current - 1, Math.ceil(current * (pressure / SCALE_DOWN_HEADROOM)));
    const replicas = clamp(wanted, min, max);
    // The next step down needs a fresh window.
    return { replicas, reason: `scaled down from ${current} after ${windowMs / 1000} s below target: ${why}`, belowSince: now, recheckAfterMs: windowMs };
  }

  return { replicas: current, reason: current === min && pressure < SCALE_DOWN_HEADROOM ? `at minReplicas ${min}: ${why}` : `within target: ${why}` };
}

export interface BaselineInput {
  /** The value in the pods' config now (undefined: none published yet). */
  published: number | undefined;
  /** What the fleet measured: the sample-weighted mean of the pods' own rolling baselines. */
  fleet: number | undefined;
  /** When the published value last moved (status.breaker.tunedAt), ms. */
  tunedAt: number | undefined;
  now: number;
  tuning: BaselineTuning;
  /** Relative difference the fleet must show before the published value moves (jitter filter). */
  hysteresis?: number;
}

export interface BaselineDecision {
  /** The value to publish (undefined while nothing was measured and nothing published). */
  value: number | undefined;
  /** Whether `value` differs from the published one. */
  moved: boolean;
  /** Look again after this long: the fleet is still away from the published value. */
  recheckAfterMs?: number;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * The baseline P95 to publish to the pods' breakers: it follows what the fleet measures, at a
 * bounded rate. The first measurement is published as it is. After that the published value
 * moves only when the fleet differs from it by more than `hysteresis` (10 %), at most once per
 * `tuning.intervalSeconds`, and by at most a factor of `tuning.maxStep` per move, so a burst of
 * slow requests (or one pod's bad minute) can only nudge the threshold, while a lasting change
 * of the fleet's latency is followed within a few intervals.
 */
export function computePublishedBaseline(i: BaselineInput): BaselineDecision {
  const { published, fleet, tuning } = i;
  if (fleet === undefined || !(fleet > 0)) return { value: published, moved: false };
  const target = round1(fleet);
  if (published === undefined || !(published > 0)) return { value: target, moved: true };
  if (Math.abs(target - published) / published <= (i.hysteresis ?? 0.1)) return { value: published, moved: false };
  const intervalMs = tuning.intervalSeconds * 1000;
  const since = i.tunedAt !== undefined && Number.isFinite(i.tunedAt) ? i.now - i.tunedAt : Infinity;
  if (since < intervalMs) return { value: published, moved: false, recheckAfterMs: Math.max(1_000, intervalMs - since) };
  const next = round1(Math.min(published * tuning.maxStep, Math.max(published / tuning.maxStep, target)));
  if (next === published) return { value: published, moved: false };
  return { value: next, moved: true, ...(next !== target ? { recheckAfterMs: Math.max(1_000, intervalMs) } : {}) };
}
