// Informers (client-node 2.x ListWatch) that never give up: client-node stops an informer on
// a list or watch error and emits `error`; we restart it after a per-informer exponential
// backoff (reset once it connects again). Events only enqueue keys (level-triggered). Each
// object passes through the informer's transform (cache-transform.ts) before it is cached.

import { ListWatch, Watch, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { computeBackoffDelay } from './backoff.js';
import { sameCachedContent, withoutManagedFields, type CacheTransform } from './cache-transform.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import { describeError, httpStatusOf } from './errors.js';
import { collectionPath, type KubeClient, type ResourceRef } from './kube-client.js';

export interface InformerLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export type InformerEventType = 'add' | 'update' | 'delete';

export interface ResilientInformerOptions<T extends KubernetesObject> {
  name: string;
  client: KubeClient;
  resource: ResourceRef;
  labelSelector?: string;
  /** Called for every add/update/delete with the object and which it was. */
  onEvent: (obj: T, type: InformerEventType) => void;
  log: InformerLogger;
  clock?: Clock;
  onRestart?: () => void;
  backoff?: { baseMs: number; maxMs: number };
  /** What the cache keeps of each object (cache-transform.ts); default: all but managedFields. */
  transform?: CacheTransform<T>;
  /** Called for an update that changed nothing the cache keeps (no onEvent then). */
  onUnchanged?: () => void;
}

/**
 * client-node's Watch contract (what a ListWatch drives) over KubeClient.watch: node:https on the
 * client's TLS material and keep-alive pool instead of client-node's fetch + web stream + readline
 * (see KubeClient.watch). Also what the operator benchmarks watch with.
 */
export class KubeClientWatch extends Watch {
  protected readonly client: KubeClient;

  constructor(client: KubeClient) {
    super(client.kubeConfig);
    this.client = client;
  }

  override watch(...[path, query, callback, done]: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    return this.client.watch(path, query ?? {}, callback, done);
  }
}

/**
 * The watch the informers' ListWatch drives: KubeClientWatch, with each object of an
 * ADDED/MODIFIED/DELETED event passed through `transform` before the ListWatch caches it
 * (BOOKMARK and ERROR events go through as they are).
 */
class TransformingWatch<T extends KubernetesObject> extends KubeClientWatch {
  readonly #transform: CacheTransform<T>;
  readonly #onModified: (next: T) => void;

  /** `onModified` sees each MODIFIED object after the transform, before the cache takes it. */
  constructor(client: KubeClient, transform: CacheTransform<T>, onModified: (next: T) => void) {
    super(client);
    this.#transform = transform;
    this.#onModified = onModified;
  }

  override watch(...[path, query, callback, done]: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    return super.watch(
      path,
      query,
      (phase, obj, raw) => {
        if (phase !== 'ADDED' && phase !== 'MODIFIED' && phase !== 'DELETED') return callback(phase, obj, raw);
        const cached = this.#transform(obj as T);
        if (phase === 'MODIFIED') this.#onModified(cached);
        return callback(phase, cached, raw);
      },
      done,
    );
  }
}

export class ResilientInformer<T extends KubernetesObject> {
  readonly name: string;
  readonly #opts: ResilientInformerOptions<T>;
  readonly #informer: ListWatch<T>;
  readonly #clock: Clock;
  #failures = 0;
  #synced = false;
  #stopped = true;
  #restartTimer: TimerHandle | undefined;
  /** HTTP status of the last failure (404: the API is not installed, e.g. cert-manager). */
  lastErrorStatus: number | undefined;

  constructor(opts: ResilientInformerOptions<T>) {
    this.name = opts.name;
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
    const path = collectionPath(opts.resource);
    const transform: CacheTransform<T> = opts.transform ?? withoutManagedFields;
    const listFn = async () => {
      const list = await opts.client.list<T>(path, { query: { labelSelector: opts.labelSelector } });
      // List items carry no apiVersion/kind (watch events do): restore them so every cached
      // object has the same shape whichever way it arrived.
      const itemKind = list.kind?.replace(/List$/, '');
      const items = list.items.map((item) => {
        if (!item.apiVersion && list.apiVersion) item.apiVersion = list.apiVersion;
        if (!item.kind && itemKind) item.kind = itemKind;
        return transform(item);
      });
      // The informer fills its cache right after this promise settles; mark synced after that.
      setImmediate(() => {
        this.#synced = true;
        this.lastErrorStatus = undefined;
      });
      return { ...list, items, metadata: list.metadata ?? {} } as never;
    };
    // Updates whose cached form equals the cached one (only status or fields the transform
    // drops changed) are cached but enqueue nothing: at 1000 PaddleServices a pod's scheduling,
    // start and readiness, or cert-manager's bookkeeping, would each cost a reconcile of its owner.
    const unchanged = new WeakSet<T>();
    const onModified = (next: T) => {
      const m = next.metadata;
      if (sameCachedContent(m?.name ? this.#informer.get(m.name, m.namespace) : undefined, next)) unchanged.add(next);
    };
    this.#informer = new ListWatch<T>(path, new TransformingWatch<T>(opts.client, transform, onModified), listFn, false, opts.labelSelector);
    this.#informer.on('add', (obj) => opts.onEvent(obj, 'add'));
    this.#informer.on('update', (obj) => {
      if (unchanged.has(obj)) opts.onUnchanged?.();
      else opts.onEvent(obj, 'update');
    });
    this.#informer.on('delete', (obj) => opts.onEvent(obj, 'delete'));
    this.#informer.on('connect', () => {
      this.#failures = 0;
    });
    this.#informer.on('error', (err: unknown) => this.#onError(err));
  }

  get cache(): ObjectCache<T> {
    return this.#informer;
  }

  /** The first list has been loaded into the cache. */
  get synced(): boolean {
    return this.#synced;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    try {
      await this.#informer.start();
    } catch (err) {
      this.#onError(err);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#restartTimer !== undefined) this.#clock.clearTimer(this.#restartTimer);
    this.#restartTimer = undefined;
    await this.#informer.stop();
  }

  #onError(err: unknown): void {
    if (this.#stopped) return;
    this.#failures++;
    this.lastErrorStatus = httpStatusOf(err);
    const { baseMs, maxMs } = this.#opts.backoff ?? { baseMs: 500, maxMs: 30_000 };
    const delay = computeBackoffDelay(this.#failures, { baseMs, maxMs, jitter: 0.2 });
    this.#opts.log.warn({ informer: this.name, err: describeError(err), retryInMs: delay, failures: this.#failures }, 'informer failed; restarting');
    this.#opts.onRestart?.();
    if (this.#restartTimer !== undefined) this.#clock.clearTimer(this.#restartTimer);
    this.#restartTimer = this.#clock.setTimer(() => {
      this.#restartTimer = undefined;
      if (this.#stopped) return;
      this.#informer.start().catch((e: unknown) => this.#onError(e));
    }, delay);
  }
}
