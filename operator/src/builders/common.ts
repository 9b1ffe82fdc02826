// Names, labels and owner references shared by every child of a PaddleService.

import { createHash } from 'node:crypto';
import { API_VERSION, KIND, type PaddleService } from '../../../crds/src/index.js';

export const FIELD_MANAGER = 'paddle-operator';
export const MANAGED_BY = 'paddle-operator';

export const LABELS = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  service: 'serving.paddle.io/service',
} as const;

export const ANNOTATIONS = {
  /** Hash of the desired object as last applied; a mismatch means the spec changed. */
  specHash: 'serving.paddle.io/spec-hash',
  /** On the pod template: hash of the settings that need a restart to take effect. */
  configHash: 'serving.paddle.io/config-hash',
} as const;

/**
 * Label on the pod template: hash of the rest of the template. Pods carry it, the sidecar reads
 * it (downward API, ENV.templateHash) and stamps it on its reports, and the status folding
 * tells the current template's pods from those a rollout has not replaced yet.
 */
export const TEMPLATE_HASH_LABEL = 'serving.paddle.io/template-hash';

/** Label selector of the managed children (informers list only these). */
export const MANAGED_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;

/** Settings of the operator itself that shape the children (from flags / env). */
export interface OperatorConfig {
  /** Sidecar image used when spec.runtime.image is not set. */
  sidecarImage: string;
  clusterDomain: string;
  /** How fast the published breaker baseline may follow the fleet (autoscale.ts computePublishedBaseline). */
  baselineTuning: BaselineTuning;
}

export interface BaselineTuning {
  /** The published baseline moves at most once per this many seconds. */
  intervalSeconds: number;
  /** One move changes it by at most this factor, up or down (> 1). */
  maxStep: number;
}

export const DEFAULT_OPERATOR_CONFIG: OperatorConfig = {
  sidecarImage: 'paddle-sidecar:dev',
  clusterDomain: 'cluster.local',
  baselineTuning: { intervalSeconds: 60, maxStep: 1.5 },
};

export interface ChildNames {
  serviceAccount: string;
  role: string;
  roleBinding: string;
  deployment: string;
  service: string;
  certificate: string;
  tlsSecret: string;
  configMap: string;
  pdb: string;
}

export function childNames(name: string): ChildNames {
  return {
    serviceAccount: name,
    role: `${name}-status-reporter`,
    roleBinding: `${name}-status-reporter`,
    deployment: name,
    service: name,
    certificate: name,
    tlsSecret: `${name}-tls`,
    configMap: `${name}-config`,
    pdb: name,
  };
}

/** Labels selecting the model pods of one PaddleService (stable: part of the Deployment selector). */
export function selectorLabels(ps: PaddleService): Record<string, string> {
  return {
    [LABELS.name]: 'paddle-service',
    [LABELS.instance]: nameOf(ps),
  };
}

export function commonLabels(ps: PaddleService): Record<string, string> {
  return {
    ...selectorLabels(ps),
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.service]: nameOf(ps),
  };
}

export function nameOf(ps: PaddleService): string {
  const name = ps.metadata.name;
  if (!name) throw new Error('PaddleService without metadata.name');
  return name;
}

export function namespaceOf(ps: PaddleService): string {
  return ps.metadata.namespace ?? 'default';
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

export function ownerReference(ps: PaddleService): OwnerReference {
  const uid = ps.metadata.uid;
  if (!uid) throw new Error('PaddleService without metadata.uid');
  return { apiVersion: API_VERSION, kind: KIND, name: nameOf(ps), uid, controller: true, blockOwnerDeletion: true };
}

export interface ChildMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences: OwnerReference[];
}

export function childMeta(ps: PaddleService, name: string, component: string): ChildMeta {
  return {
    name,
    namespace: namespaceOf(ps),
    labels: { ...commonLabels(ps), [LABELS.component]: component },
    ownerReferences: [ownerReference(ps)],
  };
}

/** JSON with object keys sorted, so equal values always serialize (and hash) the same. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex').slice(0, 16);
}
