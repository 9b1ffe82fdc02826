// Every desired child of one PaddleService, built purely from the defaulted spec.

import type { KubernetesObject } from '@kubernetes/client-node';
import type { PaddleService } from '../../../crds/src/index.js';
import { buildCertificate } from './certificate.js';
import { TEMPLATE_HASH_LABEL, type OperatorConfig } from './common.js';
import { buildConfigMap, buildSidecarConfig, computeRestartHash, type BreakerTuning } from './config-map.js';
import { buildDeployment } from './deployment.js';
import { buildPodDisruptionBudget, wantsDisruptionBudget } from './pdb.js';
import { buildRole, buildRoleBinding, buildServiceAccount } from './rbac.js';
import { buildService } from './service.js';

export * from './common.js';
export * from './certificate.js';
export * from './config-map.js';
export * from './deployment.js';
export * from './pdb.js';
export * from './rbac.js';
export * from './service.js';
export * from './resolved.js';

export interface DesiredChildren {
  /** In apply order: identity and config before the pods that use them (the PDB only where wantsDisruptionBudget). */
  objects: KubernetesObject[];
  restartHash: string;
  /** The pod template's hash (TEMPLATE_HASH_LABEL): the pods of the current template carry it. */
  templateHash: string;
}

export function buildChildren(
  ps: PaddleService,
  cfg: OperatorConfig,
  inputs: { replicas: number; tuning?: BreakerTuning },
): DesiredChildren {
  const config = buildSidecarConfig(ps, { ...inputs.tuning, replicas: inputs.replicas });
  const restartHash = computeRestartHash(config);
  const objects: KubernetesObject[] = [
    buildServiceAccount(ps),
    buildRole(ps),
    buildRoleBinding(ps),
    buildConfigMap(ps, config),
  ];
  const cert = buildCertificate(ps, cfg.clusterDomain);
  if (cert) objects.push(cert);
  const deployment = buildDeployment(ps, cfg, { replicas: inputs.replicas, restartHash });
  objects.push(buildService(ps), deployment);
  if (wantsDisruptionBudget(ps, inputs.replicas)) objects.push(buildPodDisruptionBudget(ps));
  return { objects, restartHash, templateHash: deployment.spec?.template.metadata?.labels?.[TEMPLATE_HASH_LABEL] ?? '' };
}
