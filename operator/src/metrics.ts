// The operator's Prometheus metrics, on an injected registry.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'result'>;
  readonly reconcileDuration: Histogram<'result'>;
  readonly queueDepth: Gauge;
  readonly applyErrors: Counter<'kind' | 'class'>;
  readonly apiRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly informerRestarts: Counter<'resource'>;
  readonly isLeader: Gauge;
  readonly managedServices: Gauge;

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
    this.informerRestarts = new Counter({
      name: 'paddle_operator_informer_restarts_total',
      help: 'Informer restarts after a watch or list error.',
      labelNames: ['resource'],
      registers,
    });
    this.isLeader = new Gauge({ name: 'paddle_operator_leader', help: '1 while this replica holds the leader lease.', registers });
    this.managedServices = new Gauge({ name: 'paddle_operator_paddleservices', help: 'PaddleServices in the informer cache.', registers });
  }
}
