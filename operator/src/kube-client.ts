// The operator's one door to the API server: a small JSON client over client-node's
// authenticated transport (KubeConfig auth, TLS and the undici dispatcher it configures).
// Objects travel as plain JSON, exactly as the API server sends them (the informer caches and
// the subset comparison in apply.ts rely on that), and every call is counted by verb, so the
// benchmark and the e2e suites can check how many writes a reconcile makes.

import {
  ApiException,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  PatchStrategy,
  RequestContext,
  type KubernetesObject,
} from '@kubernetes/client-node';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export type Verb = 'get' | 'list' | 'create' | 'apply' | 'patch' | 'update' | 'delete';

export interface CallObserver {
  (verb: Verb, resource: string, status: number | 'error'): void;
}

export interface KubernetesList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export class KubeClient {
  readonly #kc: KubeConfig;
  readonly #server: string;
  readonly #http = new IsomorphicFetchHttpLibrary();
  readonly #observers: CallObserver[] = [];
  /** Calls made, by verb (also exported as metrics through an observer). */
  readonly calls: Record<Verb, number> = { get: 0, list: 0, create: 0, apply: 0, patch: 0, update: 0, delete: 0 };

  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.#kc = kc;
    this.#server = cluster.server.replace(/\/+$/, '');
  }

  get kubeConfig(): KubeConfig {
    return this.#kc;
  }

  onCall(observer: CallObserver): void {
    this.#observers.push(observer);
  }

  /** Writes so far (create + apply + patch + update + delete). */
  get writes(): number {
    const c = this.calls;
    return c.create + c.apply + c.patch + c.update + c.delete;
  }

  async request<T>(method: HttpMethod, path: string, verb: Verb, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(this.#server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), method);
    ctx.setHeaderParam('Accept', 'application/json');
    if (opts.body !== undefined) {
      ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
      ctx.setBody(JSON.stringify(opts.body));
    }
    if (opts.signal) ctx.setSignal(opts.signal);
    await this.#kc.applySecurityAuthentication(ctx);
    this.calls[verb]++;
    const resource = resourceOf(path);
    let status: number | 'error' = 'error';
    try {
      const resp = await this.#http.send(ctx).toPromise();
      status = resp.httpStatusCode;
      const text = await resp.body.text();
      if (resp.httpStatusCode >= 400) {
        let message = text.slice(0, 500);
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          // not a Status object: keep the text
        }
        throw new ApiException(resp.httpStatusCode, `${method} ${path}: HTTP ${resp.httpStatusCode}: ${message}`, text, resp.headers);
      }
      return (text ? JSON.parse(text) : undefined) as T;
    } finally {
      for (const o of this.#observers) o(verb, resource, status);
    }
  }

  get<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>(HttpMethod.GET, path, 'get', opts);
  }

  list<T>(path: string, opts?: RequestOptions): Promise<KubernetesList<T>> {
    return this.request<KubernetesList<T>>(HttpMethod.GET, path, 'list', opts);
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>(HttpMethod.POST, path, 'create', { body });
  }

  update<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>(HttpMethod.PUT, path, 'update', { body });
  }

  mergePatch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>(HttpMethod.PATCH, path, 'patch', { body, contentType: PatchStrategy.MergePatch });
  }

  /** Server-side apply (JSON is valid YAML), always with our field manager and force. */
  apply<T extends KubernetesObject>(path: string, obj: T, fieldManager: string): Promise<T> {
    return this.request<T>(HttpMethod.PATCH, path, 'apply', {
      body: obj,
      contentType: PatchStrategy.ServerSideApply,
      query: { fieldManager, force: true },
    });
  }

  delete(path: string): Promise<unknown> {
    return this.request(HttpMethod.DELETE, path, 'delete');
  }
}

/** "/apis/apps/v1/namespaces/x/deployments/y" -> "deployments" (metrics label). */
export function resourceOf(path: string): string {
  const parts = path.split('?')[0]?.split('/').filter(Boolean) ?? [];
  const start = parts[0] === 'api' ? 2 : 3;
  const rest = parts.slice(start);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest.splice(0, 2);
  const resource = rest[0] ?? 'unknown';
  return rest[2] ? `${resource}/${rest[2]}` : resource;
}

/** Where a kind lives in the API. */
export interface ResourceRef {
  group: string; // '' for core
  version: string;
  plural: string;
  namespaced: boolean;
}

export function collectionPath(ref: ResourceRef, namespace?: string): string {
  const base = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  return ref.namespaced && namespace ? `${base}/namespaces/${namespace}/${ref.plural}` : `${base}/${ref.plural}`;
}

export function objectPath(ref: ResourceRef, namespace: string | undefined, name: string, subresource?: string): string {
  return `${collectionPath(ref, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
}
