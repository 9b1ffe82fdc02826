// The request counter and duration histogram keep their own numbers and hand them to
// prom-client only at scrape time; what a scrape shows must be exactly what prom-client's own
// Counter and Histogram show for the same observations.

import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { Counter, Histogram, Registry } from 'prom-client';
import { createMetrics, RequestCounter, RequestHistogram } from '../src/metrics.js';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A deterministic spread of durations across every bucket, both edges and +Inf. */
function durations(): number[] {
  const out: number[] = [];
  let x = 0x9e3779b9;
  for (let i = 0; i < 500; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out.push((x / 2 ** 32) ** 3 * 14);
  }
  return [...out, ...BUCKETS, 0, 20];
}

describe('request metrics', () => {
  it('expose the same text as prom-client for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const labelNames = ['model', 'device', 'code', 'seq_len_bucket'] as const;
    const h = new RequestHistogram(ours, { name: 'x_duration_seconds', help: 'help text', labelNames, buckets: BUCKETS });
    const c = new RequestCounter(ours, { name: 'x_requests_total', help: 'counter help', labelNames: ['model', 'path', 'code'] });
    const ph = new Histogram({ name: 'x_duration_seconds', help: 'help text', labelNames, buckets: BUCKETS, registers: [theirs] });
    const pc = new Counter({ name: 'x_requests_total', help: 'counter help', labelNames: ['model', 'path', 'code'], registers: [theirs] });
    const tuples = [
      ['mlp', 'cpu', '200', 'lt128'],
      ['mlp', 'gpu', '200', '128-256'],
      ['mlp', 'cpu', '500', 'ge4096'],
      ['weird "model"\\', 'cpu', '200', 'lt128'],
    ];
    durations().forEach((d, i) => {
      const t = tuples[i % tuples.length] as string[];
      h.labels(...t).observe(d);
      ph.labels(...t).observe(d);
      const path = i % 3 === 0 ? '/v1/predict' : '/v2/models/:name/infer';
      c.labels(t[0] as string, path, t[2] as string).inc();
      pc.labels(t[0] as string, path, t[2] as string).inc();
    });
    c.labels('mlp', '/healthz', '200').inc(3);
    pc.labels('mlp', '/healthz', '200').inc(3);
    const sort = (text: string): string[] => text.split('\n').sort();
    assert.deepEqual(sort(await ours.metrics()), sort(await theirs.metrics()));
    // The JSON form too (what the chart test reads), but for prom-client's empty exemplar slots.
    const json = async (r: Registry): Promise<unknown[]> =>
      (await r.getMetricsAsJSON()).map((m) => ({
        name: m.name,
        help: m.help,
        type: m.type,
        aggregator: m.aggregator,
        values: m.values.map(({ labels, value, metricName }: { labels: object; value: number; metricName?: string }) => JSON.stringify({ labels, value, metricName })).sort(),
      }));
    assert.deepEqual(await json(ours), await json(theirs));
  });

  it('keep one series per label tuple and refuse a wrong number of labels', () => {
    const r = new Registry();
    const c = new RequestCounter(r, { name: 'y_total', help: 'h', labelNames: ['a', 'b'] });
    assert.equal(c.labels('1', '2'), c.labels('1', '2'));
    assert.notEqual(c.labels('1', '2'), c.labels('2', '1'));
    assert.throws(() => c.labels('1'), /expected 2 label values, got 1/);
    assert.throws(() => new RequestCounter(r, { name: 'y_total', help: 'h', labelNames: ['a'] }), /already been registered/);
  });

  it('report in-flight inferences at scrape time', async () => {
    const r = new Registry();
    const m = createMetrics(r);
    m.inflight.inc();
    m.inflight.inc();
    m.inflight.dec();
    assert.equal(m.inflight.value(), 1);
    assert.match(await r.metrics(), /^paddle_inflight_requests 1$/m);
    m.inflight.dec();
    assert.match(await r.metrics(), /^paddle_inflight_requests 0$/m);
  });
});
