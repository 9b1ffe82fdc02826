// Writing children: server-side apply with the one field manager, skipped when the live object
// (from the informer cache) already has everything we want. "Everything we want" is checked
// two ways: the spec-hash annotation (the desired object changed) and a subset comparison of
// the desired fields against the live object (someone hand-edited a field we own). A no-op
// resync therefore makes no API calls at all.

import type { KubernetesObject } from '@kubernetes/client-node';
import { ANNOTATIONS, FIELD_MANAGER, hashOf } from './builders/common.js';
import type { KubeClient } from './kube-client.js';
import { objectPath } from './kube-client.js';
import { sameQuantity } from './quantity.js';
import { CHILD_RESOURCES, isChildKind, type ChildKind } from './resources.js';

/** Keys whose string values are resource quantities (the API server rewrites them canonically). */
const QUANTITY_PARENTS = new Set(['limits', 'requests']);
const QUANTITY_KEYS = new Set(['sizeLimit']);

/**
 * True when every field of `want` is present with an equal value in `have` (arrays: same
 * length, element-wise). Quantities under resources limits/requests and sizeLimit compare by
 * value ("8192Mi" equals "8Gi"). An empty list is satisfied by an absent field: the API server
 * stores and returns no empty lists (Go's omitempty), so `args: []` comes back as no `args` at
 * all (that alone made every reconcile of a TLS PaddleService apply its Deployment again).
 */
export function isSubset(want: unknown, have: unknown, quantity = false): boolean {
  if (want === undefined) return true;
  if (Array.isArray(want)) {
    if (want.length === 0 && (have === undefined || have === null)) return true;
    if (!Array.isArray(have) || have.length !== want.length) return false;
    return want.every((w, i) => isSubset(w, have[i]));
  }
  if (typeof want === 'object' && want !== null) {
    if (typeof have !== 'object' || have === null || Array.isArray(have)) return false;
    const h = have as Record<string, unknown>;
    return Object.entries(want).every(([k, v]) => {
      if (QUANTITY_PARENTS.has(k) && typeof v === 'object' && v !== null && !Array.isArray(v)) {
        const hv = h[k];
        if (typeof hv !== 'object' || hv === null) return false;
        return Object.entries(v).every(([rk, rv]) => isSubset(rv, (hv as Record<string, unknown>)[rk], true));
      }
      return isSubset(v, h[k], QUANTITY_KEYS.has(k));
    });
  }
  if (quantity && typeof want === 'string' && typeof have === 'string') return sameQuantity(want, have);
  return want === have;
}

/**
 * Where `want` is first not a subset of `have` (isSubset's walk), as a path such as
 * `spec.template.spec.containers[0].resources.limits.memory`; undefined when it is a subset.
 * For the debug log of an apply the cache says is needed.
 */
export function firstDifference(want: unknown, have: unknown, path = '', quantity = false): string | undefined {
  if (isSubset(want, have, quantity)) return undefined;
  if (Array.isArray(want) && Array.isArray(have) && have.length === want.length) {
    for (let i = 0; i < want.length; i++) {
      const d = firstDifference(want[i], have[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
  }
  if (typeof want === 'object' && want !== null && !Array.isArray(want) && typeof have === 'object' && have !== null && !Array.isArray(have)) {
    for (const [k, v] of Object.entries(want)) {
      const h = (have as Record<string, unknown>)[k];
      // Quantities compare by value one level down (isSubset's rule): test the pair whole.
      if (QUANTITY_PARENTS.has(k)) {
        if (!isSubset({ [k]: v }, { [k]: h })) return `${path}.${k} (want ${JSON.stringify(v)}, have ${JSON.stringify(h)})`;
        continue;
      }
      const d = firstDifference(v, h, path ? `${path}.${k}` : k, QUANTITY_KEYS.has(k));
      if (d !== undefined) return d;
    }
  }
  return `${path} (want ${JSON.stringify(want)?.slice(0, 200)}, have ${JSON.stringify(have)?.slice(0, 200)})`;
}

/** The desired object stamped with the hash of its own content. */
export function withSpecHash<T extends KubernetesObject>(desired: T): T {
  const hash = hashOf(desired);
  return {
    ...desired,
    metadata: { ...desired.metadata, annotations: { ...(desired.metadata?.annotations ?? {}), [ANNOTATIONS.specHash]: hash } },
  };
}

export type ApplyReason = 'missing' | 'changed' | 'drifted';

/** Why `desired` (already stamped) must be applied over `live`, or undefined when it need not. */
export function applyReason(desired: KubernetesObject, live: KubernetesObject | undefined): ApplyReason | undefined {
  if (!live) return 'missing';
  if (live.metadata?.annotations?.[ANNOTATIONS.specHash] !== desired.metadata?.annotations?.[ANNOTATIONS.specHash]) return 'changed';
  // apiVersion/kind identify the object; they are not content (and list items may lack them).
  const { metadata: _m, apiVersion: _a, kind: _k, ...wantBody } = desired as KubernetesObject & Record<string, unknown>;
  const wantMeta = { labels: desired.metadata?.labels, ownerReferences: desired.metadata?.ownerReferences };
  if (!isSubset(wantBody, live) || !isSubset(wantMeta, live.metadata)) return 'drifted';
  return undefined;
}

/** Where a stamped `desired` with the same spec hash as `live` differs from it (applyReason's 'drifted'), for the debug log. */
export function driftOf(desired: KubernetesObject, live: KubernetesObject | undefined): string | undefined {
  const { metadata: _m, apiVersion: _a, kind: _k, ...wantBody } = desired as KubernetesObject & Record<string, unknown>;
  const wantMeta = { labels: desired.metadata?.labels, ownerReferences: desired.metadata?.ownerReferences };
  return firstDifference(wantBody, live) ?? firstDifference(wantMeta, live?.metadata, 'metadata');
}

/**
 * The kinds whose applied object the reconcile reads beyond its metadata: the Deployment's and
 * the Certificate's status go into the PaddleService's (newer than the cache). Of the others only
 * the new resourceVersion is read, so their applies ask for metadata only (METADATA_ONLY_ACCEPT).
 */
const READ_WHOLE: ReadonlySet<string> = new Set<ChildKind>(['Deployment', 'Certificate']);

/**
 * Applies a child; answers what the API server wrote: the whole object for a Deployment or a
 * Certificate, else its apiVersion, kind and metadata.
 */
export async function applyChild(client: Pick<KubeClient, 'apply'>, desired: KubernetesObject): Promise<KubernetesObject> {
  const kind = desired.kind;
  if (!isChildKind(kind)) throw new Error(`not a child kind: ${kind}`);
  const name = desired.metadata?.name;
  if (!name) throw new Error(`${kind} without a name`);
  const path = objectPath(CHILD_RESOURCES[kind], desired.metadata?.namespace, name);
  if (READ_WHOLE.has(kind)) return client.apply(path, desired, FIELD_MANAGER);
  const written = await client.apply(path, desired, FIELD_MANAGER, { metadataOnly: true });
  return { apiVersion: desired.apiVersion, kind, ...(written?.metadata ? { metadata: written.metadata } : {}) };
}
