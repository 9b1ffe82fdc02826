// The run queue's series, read at scrape time: waiting requests and the bytes runs in flight
// hold. Refusals are counted where every failure is: paddle_request_failures_total with reason
// overloaded (queue full) or queue_timeout.

import { Gauge, type Registry } from 'prom-client';
import type { RunQueue } from './queue.js';

export function registerQueueMetrics(registry: Registry, queue: RunQueue): void {
  const registers = [registry];
  new Gauge({
    name: 'paddle_queue_depth',
    help: 'Requests waiting in the run queue',
    registers,
    collect() {
      this.set(queue.stats().queued);
    },
  });
  new Gauge({
    name: 'paddle_queue_reserved_bytes',
    help: 'Memory held by runs in flight (admission estimates)',
    registers,
    collect() {
      this.set(queue.stats().reservedBytes);
    },
  });
}
