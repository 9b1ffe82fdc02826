// The operator's one door to the API server: a small JSON client authenticated by the
// KubeConfig (TLS material, bearer tokens, exec/auth-provider plugins through client-node).
// Requests go over ONE keep-alive connection pool (node:https Agent) built once from the
// kubeconfig: client-node's own transport builds a fresh undici dispatcher for every request,
// so every call paid a new TCP + TLS handshake (CPU on both ends) and left an idle pool behind.
// A kubeconfig with a proxy keeps client-node's transport.
// Objects travel as plain JSON, exactly as the API server sends them (the informer caches and
// the subset comparison in apply.ts rely on that), and every call is counted by verb, so the
// benchmark and the e2e suites can check how many writes a reconcile makes.

import { Agent as HttpAgent, request as httpRequest, STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import {
  ApiException,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  PatchStrategy,
  RequestContext,
  Watch,
  type KubernetesObject,
} from '@kubernetes/client-node';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Ask for the answer as PartialObjectMetadata (see METADATA_ONLY). */
  metadataOnly?: boolean;
}

/** What a write answers when its caller reads only the metadata (e.g. the new resourceVersion). */
export interface WriteOptions {
  metadataOnly?: boolean;
}

/**
 * The Accept header of a write whose caller reads only the answer's metadata: the API server
 * answers a PartialObjectMetadata (apiVersion meta.k8s.io/v1, kind PartialObjectMetadata, the
 * object's metadata) instead of the whole object, so it encodes, sends, and we parse, no spec,
 * data or status. Plain JSON stays acceptable for a server that does not offer it.
 */
export const METADATA_ONLY_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

export type Verb = 'get' | 'list' | 'create' | 'apply' | 'patch' | 'update' | 'delete';

export interface CallObserver {
  /** One finished call: its HTTP status and how long it took (headers to the whole body read). */
  (verb: Verb, resource: string, status: number | 'error', seconds: number): void;
}

export interface KubernetesList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface KubeClientOptions {
  /** Most connections to the API server at once (requests beyond wait for a free one). */
  maxConnections?: number;
  /** A request whose socket stays silent this long fails (a network error: transient). */
  idleTimeoutMs?: number;
  /** A watch that brings no data this long ends with a TimeoutError (client-node's Watch: 30 s). */
  watchIdleTimeoutMs?: number;
}

/** One watch event: its type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR), object, and the whole event. */
export type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;

export const DEFAULT_MAX_CONNECTIONS = 32;

interface Response {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export class KubeClient {
  readonly #kc: KubeConfig;
  readonly #server: string;
  readonly #http = new IsomorphicFetchHttpLibrary();
  readonly #maxConnections: number;
  readonly #idleTimeoutMs: number;
  readonly #watchIdleTimeoutMs: number;
  /** The request headers of a user whose auth never changes (no auth provider, no exec plugin), once read. */
  #staticAuthHeaders: OutgoingHttpHeaders | undefined;
  /** The keep-alive pool, built on first use; null when client-node's transport is used (proxy). */
  #agent: Promise<HttpAgent | null> | undefined;
  /** The watches' connections (long requests, kept apart from the request pool); null with a proxy. */
  #watchAgent: Promise<HttpAgent | null> | undefined;
  readonly #observers: CallObserver[] = [];
  /** Calls made, by verb (also exported as metrics through an observer). */
  readonly calls: Record<Verb, number> = { get: 0, list: 0, create: 0, apply: 0, patch: 0, update: 0, delete: 0 };
  /** Calls sent and not yet answered. */
  inFlight = 0;

  constructor(kc: KubeConfig, opts: KubeClientOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.#kc = kc;
    this.#server = cluster.server.replace(/\/+$/, '');
    this.#maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    this.#watchIdleTimeoutMs = opts.watchIdleTimeoutMs ?? 30_000;
  }

  /** Closes the pooled connections (the client stays usable: a later call opens new ones). */
  close(): void {
    for (const agent of [this.#agent, this.#watchAgent]) void agent?.then((a) => a?.destroy());
    this.#agent = undefined;
    this.#watchAgent = undefined;
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

  /** The server's URL for `path` with `query` (undefined values left out). */
  #url(path: string, query: Record<string, string | number | boolean | undefined> = {}): URL {
    const url = new URL(this.#server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  async request<T>(method: HttpMethod, path: string, verb: Verb, opts: RequestOptions = {}): Promise<T> {
    const url = this.#url(path, opts.query);
    const body = opts.body !== undefined ? JSON.stringify(opts.body) : undefined;
    this.calls[verb]++;
    const resource = resourceOf(path);
    let status: number | 'error' = 'error';
    const started = performance.now();
    this.inFlight++;
    try {
      const agent = await (this.#agent ??= this.#makeAgent());
      const resp = agent ? await this.#send(agent, method, url, body, opts) : await this.#sendViaClientNode(method, url, body, opts);
      status = resp.status;
      const text = resp.text;
      if (resp.status >= 400) {
        let message = text.slice(0, 500);
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          // not a Status object: keep the text
        }
        throw new ApiException(resp.status, `${method} ${path}: HTTP ${resp.status}: ${message}`, text, resp.headers);
      }
      return (text ? JSON.parse(text) : undefined) as T;
    } finally {
      this.inFlight--;
      const seconds = (performance.now() - started) / 1000;
      for (const o of this.#observers) o(verb, resource, status, seconds);
    }
  }

  /** The pool for the kubeconfig's server and TLS material; null where a proxy is configured. */
  async #makeAgent(maxConnections = this.#maxConnections): Promise<HttpAgent | null> {
    const cluster = this.#kc.getCurrentCluster();
    if (cluster?.proxyUrl) return null;
    const tls: HttpsRequestOptions = {};
    await this.#kc.applyToHTTPSOptions(tls);
    const pool = { keepAlive: true, maxSockets: maxConnections, maxFreeSockets: this.#maxConnections, scheduling: 'lifo' as const };
    if (!this.#server.startsWith('https:')) return new HttpAgent(pool);
    return new HttpsAgent({
      ...pool,
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
      ...(tls.key !== undefined ? { key: tls.key } : {}),
      ...(tls.pfx !== undefined ? { pfx: tls.pfx } : {}),
      ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
      ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
      ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
    });
  }

  /**
   * Request headers from the kubeconfig's auth. Tokens from an auth provider (the in-cluster
   * service account's token file) or an exec plugin are asked for at every request: they rotate
   * (client-node caches them until they expire). Any other user's headers (a client certificate:
   * none; a fixed token) are read once: applyToHTTPSOptions also decodes the kubeconfig's TLS
   * material on every call, about 1 % of the operator's CPU while it converged 400 PaddleServices.
   */
  async #authHeaders(): Promise<OutgoingHttpHeaders> {
    if (this.#staticAuthHeaders) return this.#staticAuthHeaders;
    const o: HttpsRequestOptions = {};
    await this.#kc.applyToHTTPSOptions(o);
    const headers = (o.headers ?? {}) as OutgoingHttpHeaders;
    const user = this.#kc.getCurrentUser();
    if (!user?.authProvider && !user?.exec) this.#staticAuthHeaders = headers;
    return headers;
  }

  async #send(agent: HttpAgent, method: HttpMethod, url: URL, body: string | undefined, opts: RequestOptions): Promise<Response> {
    const headers: OutgoingHttpHeaders = { ...(await this.#authHeaders()), Accept: opts.metadataOnly ? METADATA_ONLY_ACCEPT : 'application/json' };
    if (body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const req = send(url, { method, headers, agent, ...(opts.signal ? { signal: opts.signal } : {}) }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
          resolve({ status: res.statusCode ?? 0, headers: out, text: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.setTimeout(this.#idleTimeoutMs, () => req.destroy(Object.assign(new Error(`${method} ${url.pathname}: no answer for ${this.#idleTimeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** client-node's own transport (used where the kubeconfig names a proxy). */
  async #sendViaClientNode(method: HttpMethod, url: URL, body: string | undefined, opts: RequestOptions): Promise<Response> {
    const ctx = new RequestContext(url.toString(), method);
    ctx.setHeaderParam('Accept', opts.metadataOnly ? METADATA_ONLY_ACCEPT : 'application/json');
    if (body !== undefined) {
      ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
      ctx.setBody(body);
    }
    if (opts.signal) ctx.setSignal(opts.signal);
    await this.#kc.applySecurityAuthentication(ctx);
    const resp = await this.#http.send(ctx).toPromise();
    return { status: resp.httpStatusCode, headers: resp.headers, text: await resp.body.text() };
  }

  /**
   * A watch, as client-node's Watch.watch does it (the informers' ListWatch drives it): GET
   * `path?watch=true&...`, each line of the answer one event, parsed and handed to `callback`
   * (a line that does not parse, or a callback that throws, is skipped); `done` is called once,
   * with null when the server ends the watch, the error otherwise (an HTTP status as
   * `statusCode`; a TimeoutError after watchIdleTimeoutMs without data; an AbortError when the
   * returned controller aborts it). Resolves once the answer's headers are in (or it failed).
   * Over node:https on a pool of its own rather than client-node's undici fetch, web stream and
   * readline: those were 5 % of the operator's CPU while 1000 PaddleServices converged. A
   * kubeconfig with a proxy keeps client-node's Watch.
   */
  async watch(path: string, query: Record<string, string | number | boolean | undefined>, callback: WatchCallback, done: (err: unknown) => void): Promise<AbortController> {
    let agent: HttpAgent | null;
    try {
      agent = await (this.#watchAgent ??= this.#makeAgent(Infinity));
    } catch (err) {
      done(err);
      return new AbortController();
    }
    if (!agent) return new Watch(this.#kc).watch(path, query, callback, done);
    const url = this.#url(path, { watch: 'true', ...query });
    const controller = new AbortController();
    const timeoutError = () => new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    let finished = false;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      controller.abort();
      done(err && timedOut ? timeoutError() : err);
    };
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        finish(timeoutError());
      }, this.#watchIdleTimeoutMs);
      timer.unref();
    };
    const deliver = (line: string) => {
      try {
        const event = JSON.parse(line) as { type: string; object: unknown };
        callback(event.type, event.object, event);
      } catch {
        // as client-node: a line that does not parse (or a callback that throws) is skipped
      }
    };
    rearm();
    try {
      const headers: OutgoingHttpHeaders = { ...(await this.#authHeaders()), Accept: 'application/json' };
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      await new Promise<void>((connected) => {
        const req = send(url, { method: 'GET', headers, agent, signal: controller.signal }, (res: IncomingMessage) => {
          connected();
          if (res.statusCode !== 200) {
            res.resume();
            const status = res.statusCode ?? 0;
            finish(Object.assign(new Error(res.statusMessage || STATUS_CODES[status] || 'Internal Server Error'), { statusCode: status }));
            return;
          }
          rearm();
          res.setEncoding('utf8');
          let pending = '';
          res.on('data', (chunk: string) => {
            rearm();
            const text = pending + chunk;
            let start = 0;
            for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
              if (nl > start) deliver(text.slice(start, nl));
              start = nl + 1;
            }
            pending = text.slice(start);
          });
          res.on('end', () => {
            if (pending) deliver(pending);
            pending = '';
            finish(null);
          });
          res.on('error', finish);
          res.on('close', () => finish(null));
        });
        req.on('error', (err) => {
          connected();
          finish(err);
        });
        req.end();
      });
    } catch (err) {
      finish(err);
    }
    return controller;
  }

  get<T>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>(HttpMethod.GET, path, 'get', opts);
  }

  list<T>(path: string, opts?: RequestOptions): Promise<KubernetesList<T>> {
    return this.request<KubernetesList<T>>(HttpMethod.GET, path, 'list', opts);
  }

  create<T>(path: string, body: unknown, opts: WriteOptions = {}): Promise<T> {
    return this.request<T>(HttpMethod.POST, path, 'create', { body, ...opts });
  }

  update<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>(HttpMethod.PUT, path, 'update', { body });
  }

  /** JSON merge patch (fieldValidation=Ignore: see apply). */
  mergePatch<T>(path: string, body: unknown, opts: WriteOptions = {}): Promise<T> {
    return this.request<T>(HttpMethod.PATCH, path, 'patch', { body, contentType: PatchStrategy.MergePatch, query: { fieldValidation: 'Ignore' }, ...opts });
  }

  /**
   * Server-side apply (JSON is valid YAML), always with our field manager and force.
   * fieldValidation=Ignore: at the API server's default (Warn) every apply body is parsed a
   * second time, strictly, only to find duplicate keys for a warning header nobody here reads
   * (JSON.stringify writes none); a field the schema does not know still fails the apply (the
   * typed conversion refuses it whatever fieldValidation says). That second parse was 1.7 % of
   * the API server's CPU while it converged PaddleServices (bench/operator/results-2026-12-06.md).
   */
  apply<T extends KubernetesObject>(path: string, obj: T, fieldManager: string, opts: WriteOptions = {}): Promise<T> {
    return this.request<T>(HttpMethod.PATCH, path, 'apply', {
      body: obj,
      contentType: PatchStrategy.ServerSideApply,
      query: { fieldManager, force: true, fieldValidation: 'Ignore' },
      ...opts,
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
