// PodDisruptionBudget: voluntary disruptions (node drains) take at most one model pod at a time.
// Only for a PaddleService that may run two or more pods: over one pod (or none) a budget of
// one unavailable pod allows every eviction anyway, and the budget would cost writes for
// nothing (its apply, the disruption controller's status write and its `NoPods` Event). One
// made while the service could run two stays when it can no longer: it blocks nothing there,
// and the operator deletes nothing (its RBAC has no delete verb); the PaddleService's deletion
// takes it with the other children (owner reference).

import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { PaddleService } from '../../../crds/src/index.js';
import { childMeta, childNames, nameOf, selectorLabels } from './common.js';

/**
 * Whether the PaddleService gets a PodDisruptionBudget: it may run two or more pods (the replicas
 * it runs now, `spec.replicas`, or `spec.autoscaling.maxReplicas`). With autoscaling the budget
 * stays while the autoscaler holds it at 0 or 1 pod, so scaling does not create and delete it.
 */
export function wantsDisruptionBudget(ps: PaddleService, replicas: number): boolean {
  return replicas >= 2 || (ps.spec.replicas ?? 1) >= 2 || (ps.spec.autoscaling?.maxReplicas ?? 0) >= 2;
}

export function buildPodDisruptionBudget(ps: PaddleService): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMeta(ps, childNames(nameOf(ps)).pdb, 'serving'),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(ps) },
      // Pods that never became ready (e.g. a refused model) may always be evicted.
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}
