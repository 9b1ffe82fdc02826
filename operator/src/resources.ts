// The API resources the operator reads and writes.

import { GROUP, PLURAL, VERSION } from '../../crds/src/index.js';
import type { ResourceRef } from './kube-client.js';

export const RESOURCES = {
  paddleService: { group: GROUP, version: VERSION, plural: PLURAL, namespaced: true },
  deployment: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  service: { group: '', version: 'v1', plural: 'services', namespaced: true },
  configMap: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  serviceAccount: { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
  role: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespaced: true },
  roleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true },
  pdb: { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', namespaced: true },
  certificate: { group: 'cert-manager.io', version: 'v1', plural: 'certificates', namespaced: true },
  pod: { group: '', version: 'v1', plural: 'pods', namespaced: true },
  secret: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  event: { group: '', version: 'v1', plural: 'events', namespaced: true },
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true },
  hpa: { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers', namespaced: true },
} as const satisfies Record<string, ResourceRef>;

export type ChildKind = 'Deployment' | 'Service' | 'ConfigMap' | 'ServiceAccount' | 'Role' | 'RoleBinding' | 'PodDisruptionBudget' | 'Certificate';

export const CHILD_RESOURCES: Record<ChildKind, ResourceRef> = {
  Deployment: RESOURCES.deployment,
  Service: RESOURCES.service,
  ConfigMap: RESOURCES.configMap,
  ServiceAccount: RESOURCES.serviceAccount,
  Role: RESOURCES.role,
  RoleBinding: RESOURCES.roleBinding,
  PodDisruptionBudget: RESOURCES.pdb,
  Certificate: RESOURCES.certificate,
};

export function isChildKind(kind: string | undefined): kind is ChildKind {
  return kind !== undefined && kind in CHILD_RESOURCES;
}
