// An in-process fake of the operator's own KubeClient surface (get / apply / mergePatch) over an
// in-memory object store, with caches that read the same store, for reconciler unit tests.
// It is not an API server: no defaulting, no validation, no admission; the e2e suites cover
// the real one. What it does copy: an applied object is stored (and answered, and cached) without
// its empty lists, as the API server stores and serves them (Go's omitempty on list fields).

import { ApiException, type KubernetesObject, type V1Pod, type V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { PaddleService } from '../../crds/src/index.js';
import type { Cache, ReconcileApi, ReconcilerCaches } from '../src/reconciler.js';
import { CHILD_RESOURCES, type ChildKind } from '../src/resources.js';

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** `obj` without empty lists at any depth (how the API server stores `args: []`: not at all). */
export function withoutEmptyLists<T>(obj: T): T {
  if (Array.isArray(obj)) return obj.map((x) => withoutEmptyLists(x)) as T;
  if (typeof obj !== 'object' || obj === null) return obj;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!(Array.isArray(v) && v.length === 0)) out[k] = withoutEmptyLists(v);
  return out as T;
}

const PLURAL_TO_KIND = new Map<string, string>(Object.entries(CHILD_RESOURCES).map(([kind, r]) => [r.plural, kind]));

/** "/apis/g/v/namespaces/ns/plural/name[/sub]" -> parts. */
function parsePath(path: string): { plural: string; namespace: string; name: string; sub?: string } {
  const parts = path.split('/').filter(Boolean);
  const i = parts.indexOf('namespaces');
  const [namespace, plural, name, sub] = parts.slice(i + 1);
  if (!namespace || !plural || !name) throw new Error(`unexpected path ${path}`);
  return { plural, namespace, name: decodeURIComponent(name), ...(sub ? { sub } : {}) };
}

export class FakeApi implements ReconcileApi {
  readonly objects = new Map<string, KubernetesObject>();
  readonly calls: Array<{ verb: string; path: string; body?: unknown }> = [];
  #rv = 1;
  /** When set, the next call with this verb fails with the given error (once). */
  failNext: { verb: string; error: Error } | undefined;

  static key(kind: string, namespace: string, name: string): string {
    return `${kind}/${namespace}/${name}`;
  }

  put(obj: KubernetesObject): void {
    const kind = obj.kind ?? '';
    const key = FakeApi.key(kind, obj.metadata?.namespace ?? 'default', obj.metadata?.name ?? '');
    this.objects.set(key, { ...structuredClone(obj), metadata: { ...structuredClone(obj.metadata), resourceVersion: String(this.#rv++) } });
  }

  find(kind: string, namespace: string, name: string): KubernetesObject | undefined {
    return this.objects.get(FakeApi.key(kind, namespace, name));
  }

  writes(): number {
    return this.calls.filter((c) => c.verb !== 'get').length;
  }

  #maybeFail(verb: string): void {
    if (this.failNext?.verb === verb) {
      const { error } = this.failNext;
      this.failNext = undefined;
      throw error;
    }
  }

  async get<T>(path: string): Promise<T> {
    this.calls.push({ verb: 'get', path });
    this.#maybeFail('get');
    const { plural, namespace, name } = parsePath(path);
    const kind = plural === 'secrets' ? 'Secret' : (PLURAL_TO_KIND.get(plural) ?? plural);
    const obj = this.find(kind, namespace, name);
    if (!obj) throw new ApiException(404, 'not found', JSON.stringify({ kind: 'Status', message: `${plural} "${name}" not found` }), {});
    return structuredClone(obj) as T;
  }

  async apply<T extends KubernetesObject>(path: string, obj: T): Promise<T> {
    this.calls.push({ verb: 'apply', path, body: obj });
    this.#maybeFail('apply');
    this.put(withoutEmptyLists(obj));
    return structuredClone(this.find(obj.kind ?? '', obj.metadata?.namespace ?? 'default', obj.metadata?.name ?? '')) as T;
  }

  async mergePatch<T>(path: string, body: unknown): Promise<T> {
    this.calls.push({ verb: 'patch', path, body });
    this.#maybeFail('patch');
    const { namespace, name } = parsePath(path);
    const ps = this.find('PaddleService', namespace, name);
    if (!ps) throw new ApiException(404, 'not found', '{}', {});
    const merged = mergePatch(ps, body) as KubernetesObject;
    this.put(merged);
    return structuredClone(this.find('PaddleService', namespace, name)) as T;
  }

  caches(podsSynced = true): ReconcilerCaches {
    const cacheOf = <T>(kind: string): Cache<T> => ({
      get: (name, namespace) => this.find(kind, namespace ?? 'default', name) as T | undefined,
      list: (namespace) =>
        [...this.objects.values()].filter((o) => o.kind === kind && (!namespace || o.metadata?.namespace === namespace)) as T[],
    });
    const children = Object.fromEntries(Object.keys(CHILD_RESOURCES).map((k) => [k, cacheOf<KubernetesObject>(k)])) as Record<ChildKind, Cache<KubernetesObject>>;
    return {
      paddleServices: cacheOf<PaddleService>('PaddleService'),
      children,
      pods: cacheOf<V1Pod>('Pod'),
      podsSynced: () => podsSynced,
      hpas: cacheOf<V2HorizontalPodAutoscaler>('HorizontalPodAutoscaler'),
      certificatesAvailable: () => true,
    };
  }
}
