// The controller: informers feed keys into the work queue; N workers reconcile; a periodic
// resync re-enqueues every PaddleService; failures are retried with per-key backoff.

import type { KubernetesObject, V1Pod, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { GROUP, KIND, type PaddleService } from '../../crds/src/index.js';
import { LABELS, MANAGED_SELECTOR, type OperatorConfig } from './builders/common.js';
import { childForCache, hpaForCache, podForCache } from './cache-transform.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import { classifyError, describeError } from './errors.js';
import type { EventRecorder } from './events.js';
import { ResilientInformer } from './informers.js';
import type { KubeClient } from './kube-client.js';
import type { OperatorMetrics } from './metrics.js';
import { Reconciler, type Cache, type ReconcileLogger } from './reconciler.js';
import { CHILD_RESOURCES, RESOURCES, type ChildKind } from './resources.js';
import { WorkQueue } from './work-queue.js';

export interface ControllerOptions {
  client: KubeClient;
  config: OperatorConfig;
  events: EventRecorder;
  metrics: OperatorMetrics;
  log: ReconcileLogger;
  workers: number;
  resyncMs: number;
  clock?: Clock;
}

/** Longest wait between checks of a PaddleService blocked on, e.g., a missing Secret. */
export const BLOCKED_RECHECK_MAX_MS = 60_000;

export function keyOf(obj: { metadata?: { name?: string; namespace?: string } }): string {
  return `${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name ?? ''}`;
}

/**
 * A PaddleService whose last status says Ready=True for its current spec (observedGeneration):
 * an update of it that changed no spec is housekeeping (a pod report; the fold may still change
 * the status, e.g. a pod that stopped serving, and the reconcile still comes, in the steady lane).
 */
export function isSteady(ps: PaddleService): boolean {
  const ready = ps.status?.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True' && ps.metadata.generation !== undefined && ps.status?.observedGeneration === ps.metadata.generation;
}

/** The PaddleService key that owns a child (controller owner reference), if any. */
export function ownerKeyOf(obj: KubernetesObject): string | undefined {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.kind === KIND && r.controller === true);
  return ref ? `${obj.metadata?.namespace ?? 'default'}/${ref.name}` : undefined;
}

/** The PaddleService key an HPA scales, if it scales one. */
export function hpaTargetKeyOf(hpa: V2HorizontalPodAutoscaler): string | undefined {
  const ref = hpa.spec?.scaleTargetRef;
  if (ref?.kind !== KIND || (ref.apiVersion ?? '').split('/')[0] !== GROUP) return undefined;
  return `${hpa.metadata?.namespace ?? 'default'}/${ref.name}`;
}

export class Controller {
  /** Replaced on every start(): a queue is shut down for good when leadership is lost. */
  queue: WorkQueue;
  readonly reconciler: Reconciler;
  readonly #opts: ControllerOptions;
  readonly #clock: Clock;
  readonly #psInformer: ResilientInformer<KubernetesObject>;
  readonly #podInformer: ResilientInformer<V1Pod>;
  /** HPAs are not ours (no label selector): watched only to notice one next to spec.autoscaling. */
  readonly #hpaInformer: ResilientInformer<V2HorizontalPodAutoscaler>;
  readonly #childInformers: Record<ChildKind, ResilientInformer<KubernetesObject>>;
  #workers: Promise<void>[] = [];
  #resyncTimer: TimerHandle | undefined;
  #running = false;

  constructor(opts: ControllerOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
    const { client, log, metrics } = opts;
    this.queue = this.#newQueue();
    const enqueue = (key: string | undefined) => {
      if (key) this.queue.add(key);
    };
    const restarts = (resource: string) => () => metrics.informerRestarts.inc({ resource });
    const unchanged = (resource: string) => () => metrics.unchangedUpdates.inc({ resource });

    this.#psInformer = new ResilientInformer<KubernetesObject>({
      name: 'paddleservices',
      client,
      resource: RESOURCES.paddleService,
      // The echo of our own status write brings nothing new: the reconcile that wrote it
      // already acted on everything else it saw (unless a later reconcile held its status
      // write back until this echo: then isOwnWrite answers false).
      onEvent: (ps, type) => {
        if (type !== 'delete' && this.reconciler.isOwnWrite(ps)) return;
        const key = keyOf(ps);
        // A PaddleService this process has not reconciled yet takes turns with the others; a
        // status-only update of one that is Ready as asked (in practice a pod's periodic
        // report) is housekeeping and takes turns with both, so it never stands in front of a
        // PaddleService on its way up.
        if (type === 'add' && !this.reconciler.hasState(key)) this.queue.add(key, { first: true });
        else if (type === 'update' && isSteady(ps as PaddleService)) this.queue.add(key, { steady: true });
        else enqueue(key);
      },
      log,
      clock: this.#clock,
      onRestart: restarts('paddleservices'),
      onUnchanged: unchanged('paddleservices'),
    });
    this.#podInformer = new ResilientInformer<V1Pod>({
      name: 'pods',
      client,
      resource: RESOURCES.pod,
      labelSelector: MANAGED_SELECTOR,
      transform: podForCache,
      // Pods belong to ReplicaSets; the instance label names the PaddleService.
      onEvent: (pod) => {
        const instance = pod.metadata?.labels?.[LABELS.instance];
        if (instance) enqueue(`${pod.metadata?.namespace ?? 'default'}/${instance}`);
      },
      log,
      clock: this.#clock,
      onRestart: restarts('pods'),
      onUnchanged: unchanged('pods'),
    });
    this.#hpaInformer = new ResilientInformer<V2HorizontalPodAutoscaler>({
      name: 'horizontalpodautoscalers',
      client,
      resource: RESOURCES.hpa,
      transform: hpaForCache,
      onEvent: (hpa) => enqueue(hpaTargetKeyOf(hpa)),
      log,
      clock: this.#clock,
      onRestart: restarts('horizontalpodautoscalers'),
      onUnchanged: unchanged('horizontalpodautoscalers'),
      // Optional (RBAC may not grant it): keep trying, calmly.
      backoff: { baseMs: 1_000, maxMs: 60_000 },
    });
    const children = {} as Record<ChildKind, ResilientInformer<KubernetesObject>>;
    for (const kind of Object.keys(CHILD_RESOURCES) as ChildKind[]) {
      const resource = CHILD_RESOURCES[kind];
      children[kind] = new ResilientInformer<KubernetesObject>({
        name: resource.plural,
        client,
        resource,
        labelSelector: MANAGED_SELECTOR,
        transform: childForCache,
        // Our own applies come back as watch events: those need no reconcile (changes by
        // anyone else, e.g. the Deployment controller's status, and every delete do).
        onEvent: (obj, type) => {
          if (type === 'delete') this.reconciler.forgetWritten(obj);
          else if (this.reconciler.isOwnWrite(obj)) return;
          enqueue(ownerKeyOf(obj));
        },
        log,
        clock: this.#clock,
        onRestart: restarts(resource.plural),
        onUnchanged: unchanged(resource.plural),
        // cert-manager may be absent: keep checking, but calmly.
        ...(kind === 'Certificate' ? { backoff: { baseMs: 1_000, maxMs: 60_000 } } : {}),
      });
    }
    this.#childInformers = children;

    const certs = children.Certificate;
    this.reconciler = new Reconciler({
      client,
      config: opts.config,
      clock: this.#clock,
      events: opts.events,
      metrics,
      log,
      caches: {
        paddleServices: this.#psInformer.cache as unknown as Cache<PaddleService>,
        children: Object.fromEntries(Object.entries(children).map(([k, inf]) => [k, inf.cache])) as Record<ChildKind, ResilientInformer<KubernetesObject>['cache']>,
        pods: this.#podInformer.cache,
        podsSynced: () => this.#podInformer.synced,
        hpas: this.#hpaInformer.cache,
        certificatesAvailable: () => certs.lastErrorStatus !== 404,
      },
    });
  }

  /** Every informer has loaded its first list (cert-manager's may be absent: then it is not waited for). */
  get synced(): boolean {
    const children = Object.entries(this.#childInformers).every(([kind, inf]) => inf.synced || (kind === 'Certificate' && inf.lastErrorStatus === 404));
    return this.#psInformer.synced && this.#podInformer.synced && children;
  }

  get running(): boolean {
    return this.#running;
  }

  #newQueue(): WorkQueue {
    const { metrics } = this.#opts;
    return new WorkQueue({ clock: this.#clock, onDepthChange: (d) => metrics.queueDepth.set(d) });
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    if (this.queue.shuttingDown) this.queue = this.#newQueue();
    const informers = [this.#podInformer, ...Object.values(this.#childInformers)];
    await Promise.all([...informers, this.#hpaInformer].map((i) => i.start()));
    // Children first, so the first reconciles see the existing children and write nothing.
    await this.#waitFor(() => informers.every((i) => i.synced || (i === this.#childInformers.Certificate && i.lastErrorStatus === 404)), 30_000);
    await this.#psInformer.start();
    for (let i = 0; i < this.#opts.workers; i++) this.#workers.push(this.#work());
    this.#scheduleResync();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#resyncTimer !== undefined) this.#clock.clearTimer(this.#resyncTimer);
    this.queue.shutdown();
    await Promise.all([this.#psInformer, this.#podInformer, this.#hpaInformer, ...Object.values(this.#childInformers)].map((i) => i.stop()));
    await Promise.allSettled(this.#workers);
    this.#workers = [];
    this.#opts.metrics.clearConditions();
  }

  #scheduleResync(): void {
    this.#resyncTimer = this.#clock.setTimer(() => {
      if (!this.#running) return;
      const all = this.#psInformer.cache.list();
      this.#opts.metrics.managedServices.set(all.length);
      for (const ps of all) this.queue.add(keyOf(ps), { steady: true });
      this.#scheduleResync();
    }, this.#opts.resyncMs);
  }

  async #waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = this.#clock.now() + timeoutMs;
    while (!cond() && this.#clock.now() < deadline && this.#running) await this.#clock.sleep(50);
  }

  async #work(): Promise<void> {
    const { metrics, log } = this.#opts;
    const queue = this.queue;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const end = metrics.reconcileDuration.startTimer();
      metrics.activeReconciles.inc();
      let result = 'success';
      try {
        const r = await this.reconciler.reconcile(key);
        result = r.result;
        if (r.backoff) {
          // Blocked on something outside our objects (a missing Secret): poll, calmly, but
          // notice a fix within a minute.
          const delay = queue.addRateLimited(key, BLOCKED_RECHECK_MAX_MS);
          log.info({ key, result, retryInMs: delay }, 'reconcile blocked; checking again later');
        } else {
          queue.forget(key);
          if (r.requeueAfterMs !== undefined) queue.addAfter(key, r.requeueAfterMs);
        }
      } catch (err) {
        const cls = classifyError(err);
        result = 'error';
        const delay = queue.addRateLimited(key);
        log.warn({ key, err: describeError(err), class: cls, retryInMs: delay, failures: queue.failures(key) }, 'reconcile failed; retrying');
      } finally {
        end({ result });
        metrics.reconcileTotal.inc({ result });
        metrics.activeReconciles.dec();
        queue.done(key);
      }
    }
  }
}
