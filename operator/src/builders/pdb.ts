// PodDisruptionBudget: voluntary disruptions (node drains) take at most one model pod at a time.

import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { PaddleService } from '../../../crds/src/index.js';
import { childMeta, childNames, nameOf, selectorLabels } from './common.js';

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
