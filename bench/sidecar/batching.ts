// Dynamic batching throughput (issue 19): the full REST chain (auth on, default queue: one run
// slot) on the MLP and transformer fixtures (real addon, one CPU thread), batching off vs on
// (maxBatchSize 32, maxQueueDelayMicroseconds 0, the default), autocannon at 1, 8 and 32 connections,
// each caller sending batch-1 requests (MLP: x [1, 64]; transformer: tokens [1, 16]). Prints
// req/s, p50/p99 and the on/off ratio per concurrency, and beside p99 the bound the issue sets:
// max queue delay + one run of a full batch (measured here: the median of 20 runs of 32 rows).
// Figures only; never asserts timings.
//
//   npx tsx bench/sidecar/batching.ts [--duration 5] [--fixtures mlp,transformer] [--delay-us 0] [--max-batch 32]

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { Predictor } from '../../native/lib/index.js';
import { createApp } from '../../sidecar/src/app.js';
import { createLoggers } from '../../sidecar/src/logging.js';
import { createSidecarServer } from '../../sidecar/src/server.js';
import { ReloadableTracing } from '../../sidecar/src/tracing.js';
import type { Tensor } from '../../sidecar/src/predictor.js';
import { benchAuth, benchConfig, cannon, median, ROOT } from './common.js';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, fixtures: { type: 'string', default: 'mlp,transformer' }, 'delay-us': { type: 'string', default: '0' }, 'max-batch': { type: 'string', default: '32' } } });
const DURATION = Number(values.duration);
const MAX_BATCH = Number(values['max-batch']);
const DELAY_US = Number(values['delay-us']);

interface Fixture {
  name: string;
  body: string;
  row: () => Record<string, Tensor>;
}
const FIXTURES: Record<string, Fixture> = {
  mlp: {
    name: 'mlp',
    body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, (_, i) => ((i % 13) - 6) / 10) }] }),
    row: () => ({ x: { dtype: 'float32', shape: [1, 64], data: Float32Array.from({ length: 64 }, (_, i) => ((i % 13) - 6) / 10) } }),
  },
  transformer: {
    name: 'transformer',
    body: JSON.stringify({ inputs: [{ name: 'tokens', shape: [1, 16], datatype: 'INT64', data: Array.from({ length: 16 }, (_, i) => (i * 37) % 500) }] }),
    row: () => ({ tokens: { dtype: 'int64', shape: [1, 16], data: BigInt64Array.from({ length: 16 }, (_, i) => BigInt((i * 37) % 500)) } }),
  },
};

const auth = await benchAuth('batching-bench-');
console.log(`\ndynamic batching, full REST chain (auth on, queue default: 1 run slot), batch-1 requests, autocannon x ${DURATION}s; on = maxBatchSize ${MAX_BATCH}, maxQueueDelayMicroseconds ${DELAY_US}`);
for (const key of values.fixtures.split(',')) {
  const fx = FIXTURES[key];
  if (!fx) throw new Error(`unknown fixture ${key}`);
  const predictor = await Predictor.load({
    modelDir: join(ROOT, `native/fixtures/models/${fx.name}/legacy`),
    publicKeyPem: readFileSync(join(ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem'), 'utf8'),
    cpuThreads: 1,
  });
  // One run of a full batch: the bound's second term.
  const full: Record<string, Tensor> = {};
  for (const [n, t] of Object.entries(fx.row())) {
    const per = t.data.length;
    const data = t.data instanceof BigInt64Array ? new BigInt64Array(per * MAX_BATCH) : new Float32Array(per * MAX_BATCH);
    for (let r = 0; r < MAX_BATCH; r++) (data as Float32Array).set(t.data as Float32Array, r * per);
    full[n] = { dtype: t.dtype, shape: [MAX_BATCH, ...t.shape.slice(1)], data };
  }
  const runs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const s = process.hrtime.bigint();
    await predictor.run(full);
    runs.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const fullRunMs = median(runs);
  const bound = DELAY_US / 1000 + fullRunMs;
  console.log(`\n${fx.name}: one run of ${MAX_BATCH} rows ${fullRunMs.toFixed(2)} ms (median of 20); p99 bound = ${DELAY_US / 1000} + ${fullRunMs.toFixed(2)} = ${bound.toFixed(2)} ms`);
  console.log('  conc | off req/s | off p50/p99 ms | on req/s | on p50/p99 ms | on/off | p99 within bound');
  for (const conc of [1, 8, 32]) {
    const row: string[] = [String(conc).padStart(6)];
    let off = 0;
    for (const enabled of [false, true]) {
      const base = benchConfig(auth);
      const config = { ...base, model: { name: fx.name }, batching: { enabled, maxBatchSize: MAX_BATCH, maxQueueDelayMicroseconds: DELAY_US, preferredBatchSizes: [] } };
      const loggers = createLoggers({ service: 'paddle-sidecar', level: 'info', sinks: { out: { write: () => {} }, deadLetter: { write: (l) => process.stderr.write(l) } } });
      const tracing = new ReloadableTracing({ serviceName: 'bench' });
      const app = await createApp({ config, predictor, registry: new Registry(), loggers, tracer: tracing.tracer, device: 'cpu' });
      app.start();
      const server = createSidecarServer({ handler: app.handler });
      const port = await server.listen(0, '127.0.0.1');
      const r = await cannon(`http://127.0.0.1:${port}/v2/models/${fx.name}/infer`, { body: fx.body, headers: { authorization: `Bearer ${auth.token}` }, connections: conc, duration: DURATION });
      await new Promise((res) => setTimeout(res, 200));
      await server.close();
      app.close();
      await tracing.shutdown(500);
      const rate = r.requests.average;
      if (r.non2xx) row.push(`(${r.non2xx} non-2xx)`);
      if (!enabled) off = rate;
      row.push(rate.toFixed(0).padStart(9), `${r.latency.p50}/${r.latency.p99}`.padStart(14));
      if (enabled) row.push(`${(rate / off).toFixed(2)}x`.padStart(6), r.latency.p99 <= bound ? 'yes' : `no (${r.latency.p99} > ${bound.toFixed(2)})`);
    }
    console.log(row.join(' | '));
  }
  predictor.dispose();
}
console.log('\ngoal: >= 2x at 32 connections on the MLP, p99 <= max queue delay + one batch run (autocannon latencies have 1 ms resolution)');
