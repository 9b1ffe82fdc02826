// What the informer caches keep of each object, applied once as it enters the cache (list items
// and watch events alike). The readers of the caches, and what they read:
//   - applyReason (apply.ts): a child's spec-hash annotation, labels and ownerReferences, and
//     every field the builders set (anything outside metadata and status: spec, data, rules,
//     subjects, ...), compared as a subset: server-added fields there are ignored, so they stay.
//   - computeStatus: Deployment status (replicas, readyReplicas, availableReplicas; the
//     Available condition's status, Progressing's status and, when stalled, its reason and
//     message) and the Certificate's Ready condition; the reconciler: the Deployment's spec.replicas and
//     the ConfigMap's data.
//   - the controller and reconciler bookkeeping: kind, name, namespace, resourceVersion
//     (isOwnWrite, cacheIsBehind, client-node's cache), ownerReferences (ownerKeyOf).
//   - pods: labels, deletionTimestamp and name (the fleet's live pod set and template, the event's
//     owner), and how containers that terminated ended (the model-fetch init container for
//     ModelFetched; the others' restart counts and reasons for memory kills, status/memory-kills.ts).
//   - HorizontalPodAutoscalers: name and spec.scaleTargetRef (the AutoscalingConflict condition).
//   - PaddleServices: everything but managedFields (the reconciler reads spec, status, metadata).
// Everything else (managedFields above all, creationTimestamp, other annotations, child status
// nobody folds, a pod's spec and status) is dropped. The kept objects are built new (never by
// deleting properties in place, which leaves larger dictionary-mode objects); what they keep of
// the event's object (a spec, the labels) is shared, not copied: the event's object itself is
// garbage once transformed. (A JSON round trip of every cached object used to copy those parts
// too: 3 % of the operator's CPU while 400 PaddleServices converged, for no smaller heap.)

import type { KubernetesObject, V1ContainerStateTerminated, V1ObjectMeta, V1Pod, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { MODEL_FETCH } from '../../crds/src/index.js';
import { ANNOTATIONS } from './builders/common.js';
import type { ChildKind } from './resources.js';

export type CacheTransform<T extends KubernetesObject> = (obj: T) => T;

/** The status fields of a child that something reads (none for the other kinds). */
const CHILD_STATUS_FIELDS: Partial<Record<ChildKind, readonly string[]>> = {
  Deployment: ['replicas', 'readyReplicas', 'availableReplicas', 'conditions'],
  Certificate: ['conditions'],
};

interface DeploymentConditionLike {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

/**
 * A Deployment's conditions as computeStatus reads them: Available by its status; Progressing by
 * its status, and its reason and message only when the rollout is stalled
 * (ProgressDeadlineExceeded). The Deployment controller writes a new Deployment's status about
 * three times while its ReplicaSet comes up (Progressing NewReplicaSetCreated -> ReplicaSetUpdated
 * -> NewReplicaSetAvailable, new lastUpdateTimes); those steps carry nothing the status folds, so
 * their cached form does not change and they enqueue no reconcile.
 */
function deploymentConditions(conditions: unknown): DeploymentConditionLike[] | undefined {
  if (!Array.isArray(conditions)) return undefined;
  return (conditions as DeploymentConditionLike[]).flatMap((c): DeploymentConditionLike[] => {
    if (c.type === 'Available') return [{ type: c.type, status: c.status }];
    if (c.type !== 'Progressing') return [];
    const stalled = c.reason === 'ProgressDeadlineExceeded';
    return [{ type: c.type, status: c.status, ...(stalled ? { reason: c.reason, message: c.message } : {}) }];
  });
}

function pick(obj: Record<string, unknown> | undefined, keys: readonly string[]): Record<string, unknown> | undefined {
  if (!obj) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/** Identity and ownership: what every cache's bookkeeping reads. */
function identity(m: V1ObjectMeta | undefined): V1ObjectMeta {
  const out = pick(m as Record<string, unknown> | undefined, ['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'labels', 'ownerReferences', 'deletionTimestamp', 'finalizers']);
  return (out ?? {}) as V1ObjectMeta;
}

/** A PaddleService (or any object read whole): everything but managedFields. */
export function withoutManagedFields<T extends KubernetesObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _mf, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** A child of a PaddleService: its content, identity, spec hash and the status fields folded into the PaddleService's. */
export function childForCache(obj: KubernetesObject): KubernetesObject {
  const { metadata, status, ...content } = obj as KubernetesObject & { status?: Record<string, unknown> };
  const meta = identity(metadata);
  const hash = metadata?.annotations?.[ANNOTATIONS.specHash];
  if (hash !== undefined) meta.annotations = { [ANNOTATIONS.specHash]: hash };
  const statusFields = CHILD_STATUS_FIELDS[obj.kind as ChildKind];
  const kept = statusFields ? pick(status, statusFields) : undefined;
  if (kept && obj.kind === 'Deployment' && kept.conditions !== undefined) kept.conditions = deploymentConditions(kept.conditions);
  return { ...content, metadata: meta, ...(kept ? { status: kept } : {}) };
}

/** An HPA: who it is and what it scales. */
export function hpaForCache(hpa: V2HorizontalPodAutoscaler): V2HorizontalPodAutoscaler {
  const ref = hpa.spec?.scaleTargetRef;
  return {
    apiVersion: hpa.apiVersion,
    kind: hpa.kind,
    metadata: identity(hpa.metadata),
    ...(ref ? { spec: { scaleTargetRef: { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name } } } : {}),
  } as V2HorizontalPodAutoscaler;
}

/** A terminated state reduced to what the ModelFetched condition reads. */
function terminated(t: V1ContainerStateTerminated | undefined): V1ContainerStateTerminated | undefined {
  return t ? (pick(t as unknown as Record<string, unknown>, ['exitCode', 'reason', 'message', 'finishedAt']) as unknown as V1ContainerStateTerminated) : undefined;
}

/**
 * A pod: who it is and whether it is going (the fleet counts live pods by name), plus how its
 * model-fetch init container ended, when it has one (the ModelFetched condition quotes it), and
 * how its other containers last terminated (memory kills).
 */
export function podForCache(pod: V1Pod): V1Pod {
  const fetch = pod.status?.initContainerStatuses?.find((c) => c.name === MODEL_FETCH.container);
  const state = terminated(fetch?.state?.terminated);
  const last = terminated(fetch?.lastState?.terminated);
  const initContainerStatuses =
    fetch && (state || last)
      ? [{ name: fetch.name, image: '', imageID: '', ready: fetch.ready, restartCount: fetch.restartCount, ...(state ? { state: { terminated: state } } : {}), ...(last ? { lastState: { terminated: last } } : {}) }]
      : [];
  // Containers that terminated (now or before their last restart): memory kills read the reason.
  const containerStatuses = (pod.status?.containerStatuses ?? []).flatMap((c) => {
    const now = terminated(c.state?.terminated);
    const before = terminated(c.lastState?.terminated);
    return now || before ? [{ name: c.name, image: '', imageID: '', ready: c.ready, restartCount: c.restartCount, ...(now ? { state: { terminated: now } } : {}), ...(before ? { lastState: { terminated: before } } : {}) }] : [];
  });
  const status = {
    ...(initContainerStatuses.length > 0 ? { initContainerStatuses } : {}),
    ...(containerStatuses.length > 0 ? { containerStatuses } : {}),
  };
  return { apiVersion: pod.apiVersion, kind: pod.kind, metadata: identity(pod.metadata), ...(Object.keys(status).length > 0 ? { status } : {}) };
}

/**
 * Whether two cached versions of one object (both through the same transform) hold the same
 * content, resourceVersion aside: an update whose cached form did not change (a pod scheduled,
 * started or made Ready; a Certificate's renewal time) carries nothing any reader of the cache
 * reads, so it needs no reconcile. Cached objects come from JSON with the API server's field
 * order, so their JSON texts compare.
 */
export function sameCachedContent(a: KubernetesObject | undefined, b: KubernetesObject): boolean {
  if (!a || !a.metadata || !b.metadata) return false;
  const text = (o: KubernetesObject) => JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
  return text(a) === text(b);
}
