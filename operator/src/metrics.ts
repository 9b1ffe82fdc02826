// The operator's Prometheus metrics, on an injected registry.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Condition } from '../../crds/src/index.js';
import { ConditionGauge } from './condition-metric.js';

export type { ConditionLabel } from './condition-metric.js';

export class OperatorMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'result'>;
  readonly reconcileDuration: Histogram<'result'>;
  readonly queueDepth: Gauge;
  readonly activeReconciles: Gauge;
  readonly applyErrors: Counter<'kind' | 'class'>;
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly apiRequestDuration: Histogram<'verb'>;
  readonly apiRequestsInFlight: Gauge;
  /** Read at every scrape into apiRequestsInFlight (the client's count). */
  apiInFlight: () => number = () => 0;
  readonly informerRestarts: Counter<'resource'>;
  readonly unchangedUpdates: Counter<'resource'>;
  readonly isLeader: Gauge;
  readonly managedServices: Gauge;
  /**
   * 1 while a PaddleService's condition is True, 0 while False; no series when Unknown or absent.
   * Not in the registry: metrics() appends it, rendered per PaddleService (condition-metric.ts).
   */
  readonly paddleServiceCondition = new ConditionGauge();

  constructor(registry = new Registry(), withDefaults = true) {
    this.registry = registry;
    if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'paddle_operator_' });
    const registers = [registry];
    this.reconcileTotal = new Counter({
      name: 'paddle_operator_reconcile_total',
      help: 'Reconciles by result (success, requeue, invalid, error).',
      labelNames: ['result'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'paddle_operator_reconcile_duration_seconds',
      help: 'Reconcile duration by result.',
      labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.queueDepth = new Gauge({ name: 'paddle_operator_workqueue_depth', help: 'Keys waiting in the work queue.', registers });
    this.activeReconciles = new Gauge({ name: 'paddle_operator_active_reconciles', help: 'Reconciles running now (one per busy worker).', registers });
    this.applyErrors = new Counter({
      name: 'paddle_operator_apply_errors_total',
      help: 'Failed server-side applies of children, by kind and error class.',
      labelNames: ['kind', 'class'],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'paddle_operator_api_requests_total',
      help: 'API server requests made by the operator (informer watches excluded), by verb, resource and HTTP code.',
      labelNames: ['verb', 'resource', 'code'],
      registers,
    });
    this.apiRequestDuration = new Histogram({
      name: 'paddle_operator_api_request_duration_seconds',
      help: 'API server request latency seen by the operator (informer watches excluded), by verb.',
      labelNames: ['verb'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const inFlight = () => this.apiInFlight();
    this.apiRequestsInFlight = new Gauge({
      name: 'paddle_operator_api_requests_in_flight',
      help: 'API server requests sent and not yet answered (informer watches excluded).',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    this.informerRestarts = new Counter({
      name: 'paddle_operator_informer_restarts_total',
      help: 'Informer restarts after a watch or list error.',
      labelNames: ['resource'],
      registers,
    });
    this.unchangedUpdates = new Counter({
      name: 'paddle_operator_informer_unchanged_updates_total',
      help: 'Watch updates that changed nothing the cache keeps (e.g. a pod made Ready): cached, no reconcile.',
      labelNames: ['resource'],
      registers,
    });
    this.isLeader = new Gauge({ name: 'paddle_operator_leader', help: '1 while this replica holds the leader lease.', registers });
    this.managedServices = new Gauge({ name: 'paddle_operator_paddleservices', help: 'PaddleServices in the informer cache.', registers });
  }

  /** The text /metrics serves: the registry's families, then the condition family. */
  async metrics(): Promise<string> {
    // The registry is the Prometheus text format (the constructor's type): families apart by a blank line.
    return `${await this.registry.metrics()}\n${this.paddleServiceCondition.render()}\n`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Exports the conditions of one PaddleService; conditions Unknown or absent lose their series,
   * and a changed reason replaces the series of the old one.
   */
  setConditions(namespace: string, name: string, conditions: readonly Pick<Condition, 'type' | 'status' | 'reason'>[] | undefined): void {
    this.paddleServiceCondition.set(namespace, name, conditions);
  }

  /** Drops every condition series of one PaddleService (it was deleted). */
  forgetConditions(namespace: string, name: string): void {
    this.setConditions(namespace, name, undefined);
  }

  /** Drops every condition series (the controller stopped: a standby must not export stale values). */
  clearConditions(): void {
    this.paddleServiceCondition.reset();
  }
}
