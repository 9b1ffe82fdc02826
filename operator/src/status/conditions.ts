// Conditions in the Kubernetes convention: one entry per type, each with the generation it was
// computed for; lastTransitionTime moves only when the status (True/False/Unknown) changes.

import type { Condition, ConditionStatus, ConditionType } from '../../../crds/src/index.js';

export const CONDITION_ORDER: ConditionType[] = ['Ready', 'Available', 'CertificateReady', 'ModelVerified', 'ModelFetched', 'Degraded', 'BreakerOpen', 'AutoscalingConflict'];

export interface ConditionInput {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * Merges freshly computed conditions into the previous list. A condition whose status is
 * unchanged keeps its lastTransitionTime (reason, message and observedGeneration may change).
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  generation: number | undefined,
  nowIso: string,
): Condition[] {
  const byType = new Map((previous ?? []).map((c) => [c.type, c]));
  const out: Condition[] = [];
  for (const c of next) {
    const prev = byType.get(c.type);
    const lastTransitionTime = prev && prev.status === c.status ? prev.lastTransitionTime : nowIso;
    out.push({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime,
    });
  }
  out.sort((a, b) => CONDITION_ORDER.indexOf(a.type) - CONDITION_ORDER.indexOf(b.type));
  return out;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: ConditionType): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
