// The run queue's series at scrape time (pipeline/queue-metrics.ts): how many requests wait and
// how many bytes the runs in flight hold, read from the queue when Prometheus scrapes.

import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { RunQueue } from '../../src/pipeline/queue.js';
import { registerQueueMetrics } from '../../src/pipeline/queue-metrics.js';

async function sample(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  assert.ok(m, `${name} is registered`);
  const values = (m as unknown as { values: Array<{ value: number }> }).values;
  assert.equal(values.length, 1, `${name}: one unlabelled series`);
  return (values[0] as { value: number }).value;
}

describe('pipeline stage: run queue metrics', () => {
  it('paddle_queue_depth and paddle_queue_reserved_bytes follow the queue at every scrape', async () => {
    const registry = new Registry();
    const q = new RunQueue({ maxInFlight: 1, maxQueued: 4, maxQueueTimeMs: 60_000 }, 1000);
    registerQueueMetrics(registry, q);
    assert.deepEqual([await sample(registry, 'paddle_queue_depth'), await sample(registry, 'paddle_queue_reserved_bytes')], [0, 0]);

    assert.equal(q.tryEnter(300), true, 'one run in flight holding 300 bytes');
    const waiters = [q.enter(200), q.enter(100)];
    assert.deepEqual([await sample(registry, 'paddle_queue_depth'), await sample(registry, 'paddle_queue_reserved_bytes')], [2, 300]);
    assert.match(await registry.metrics(), /# HELP paddle_queue_depth Requests waiting in the run queue\n# TYPE paddle_queue_depth gauge\npaddle_queue_depth 2\n/);

    q.leave(300);
    await waiters[0];
    assert.deepEqual([await sample(registry, 'paddle_queue_depth'), await sample(registry, 'paddle_queue_reserved_bytes')], [1, 200], 'the first waiter runs with its bytes');
    q.leave(200);
    await waiters[1];
    q.leave(100);
    assert.deepEqual([await sample(registry, 'paddle_queue_depth'), await sample(registry, 'paddle_queue_reserved_bytes')], [0, 0]);
  });
});
