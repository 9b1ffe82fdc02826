// Prometheus metrics on an injected registry (never the global one). Names follow the
// ecosystem's style: base units (seconds, bytes), `_total` counters.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface SidecarMetrics {
  requestDuration: Histogram<'model' | 'device' | 'code' | 'seq_len_bucket'>;
  requests: Counter<'model' | 'path' | 'code'>;
  failures: Counter<'model' | 'reason'>;
  inflight: Gauge;
  breakerState: Gauge<'group'>;
  breakerTrips: Counter<'group'>;
  rateLimited: Counter<'domain'>;
  shed: Counter;
  servingMode: Gauge<'mode'>;
  gpuMemoryUsed: Gauge;
  gpuMemoryTotal: Gauge;
  cpuUtilization: Gauge;
  auditBufferDepth: Gauge;
  auditDropped: Counter;
  auditSent: Counter;
  logDeadLetters: Counter;
  configReloads: Counter<'result'>;
  modelReady: Gauge;
  reportPatches: Counter<'result'>;
}

export const BREAKER_STATE_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

export function createMetrics(registry: Registry): SidecarMetrics {
  const registers = [registry];
  return {
    requestDuration: new Histogram({
      name: 'paddle_request_duration_seconds',
      help: 'Inference request duration in seconds, from arrival to response',
      labelNames: ['model', 'device', 'code', 'seq_len_bucket'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    requests: new Counter({ name: 'paddle_requests_total', help: 'HTTP requests served, by path and status code', labelNames: ['model', 'path', 'code'], registers }),
    failures: new Counter({ name: 'paddle_request_failures_total', help: 'Failed requests by reason', labelNames: ['model', 'reason'], registers }),
    inflight: new Gauge({ name: 'paddle_inflight_requests', help: 'Inference requests in flight', registers }),
    breakerState: new Gauge({ name: 'paddle_breaker_state', help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open', labelNames: ['group'], registers }),
    breakerTrips: new Counter({ name: 'paddle_breaker_trips_total', help: 'Circuit breaker trips', labelNames: ['group'], registers }),
    rateLimited: new Counter({ name: 'paddle_rate_limited_total', help: 'Requests refused by the rate limiter', labelNames: ['domain'], registers }),
    shed: new Counter({ name: 'paddle_shed_total', help: 'Requests shed by the degradation tree', registers }),
    servingMode: new Gauge({ name: 'paddle_serving_mode', help: 'Current serving mode (1 for the active mode)', labelNames: ['mode'], registers }),
    gpuMemoryUsed: new Gauge({ name: 'paddle_gpu_memory_used_bytes', help: 'GPU memory used on the device, bytes', registers }),
    gpuMemoryTotal: new Gauge({ name: 'paddle_gpu_memory_total_bytes', help: 'GPU memory total on the device, bytes', registers }),
    cpuUtilization: new Gauge({ name: 'paddle_cpu_utilization_ratio', help: 'Sampled CPU utilization (0..1) the degradation tree sees', registers }),
    auditBufferDepth: new Gauge({ name: 'paddle_audit_buffer_depth', help: 'Audit records waiting to be delivered', registers }),
    auditDropped: new Counter({ name: 'paddle_audit_dropped_total', help: 'Audit records dropped because the buffer was full', registers }),
    auditSent: new Counter({ name: 'paddle_audit_sent_total', help: 'Audit records written to the receiver (a record resent after a reconnect counts again)', registers }),
    logDeadLetters: new Counter({ name: 'paddle_log_dead_letters_total', help: 'Log records that failed the log schema and went to the dead-letter sink', registers }),
    configReloads: new Counter({ name: 'paddle_config_reloads_total', help: 'Config file reloads by result', labelNames: ['result'], registers }),
    modelReady: new Gauge({ name: 'paddle_model_ready', help: '1 when the model is loaded, verified and the self-check passed', registers }),
    reportPatches: new Counter({ name: 'paddle_pod_report_patches_total', help: 'Pod report patches by result', labelNames: ['result'], registers }),
  };
}

/**
 * A labelled metric's children cached per label tuple: prom-client's `labels(...)` builds a
 * labels object and a bound child on every call. The cache is bounded (label tuples of the hot
 * paths are few: model x route x code); past the bound children are built per call as before.
 */
export function cachedChildren<T>(labels: (...values: string[]) => T, max = 4096): (...values: string[]) => T {
  const cache = new Map<string, T>();
  return (...values: string[]): T => {
    const key = values.join('\u0000');
    let child = cache.get(key);
    if (child === undefined) {
      child = labels(...values);
      if (cache.size < max) cache.set(key, child);
    }
    return child;
  };
}
