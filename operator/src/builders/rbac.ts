// Identity of the model pods: a ServiceAccount, and a Role that lets them read and merge-patch
// the status of their own PaddleService only (resourceNames), bound to that ServiceAccount.

import type { V1Role, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import { GROUP, PLURAL, type PaddleService } from '../../../crds/src/index.js';
import { childMeta, childNames, nameOf, namespaceOf } from './common.js';

export function buildServiceAccount(ps: PaddleService): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: childMeta(ps, childNames(nameOf(ps)).serviceAccount, 'identity'),
    // The sidecar needs its token to patch status; it is mounted explicitly on the pod.
    automountServiceAccountToken: false,
  };
}

export function buildRole(ps: PaddleService): V1Role {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: childMeta(ps, childNames(nameOf(ps)).role, 'identity'),
    rules: [
      {
        apiGroups: [GROUP],
        resources: [`${PLURAL}/status`],
        resourceNames: [nameOf(ps)],
        verbs: ['get', 'patch'],
      },
    ],
  };
}

export function buildRoleBinding(ps: PaddleService): V1RoleBinding {
  const names = childNames(nameOf(ps));
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: childMeta(ps, names.roleBinding, 'identity'),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: names.role },
    subjects: [{ kind: 'ServiceAccount', name: names.serviceAccount, namespace: namespaceOf(ps) }],
  };
}
