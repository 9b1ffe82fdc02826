// Drives the full chain (the same setup as bench.ts: auth on, HS256, CORS, metrics, spans,
// schema-checked logs) with autocannon for a while, for a CPU profile of the per-request cost:
//
//   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/sidecar/profile.ts [--duration 10] [--bare]
//
// autocannon runs in a worker thread, so the main thread's profile is the server alone; --bare
// profiles bench.ts's bare node:http reference instead. Summarise the main thread's .cpuprofile
// (the first file) with bench/sidecar/profile-summary.ts.
//
// --fake-predictor answers every run with the output the real predictor gave once, on the main
// thread: the profile then holds the chain's own JavaScript, without the samples that land on
// the predictor call while the kernel hands the run to the addon's worker thread and back
// (wall-clock samples, not CPU: with the real predictor they are a third of all samples).

import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Registry } from 'prom-client';
import { createApp } from '../../sidecar/src/app.js';
import { createLoggers } from '../../sidecar/src/logging.js';
import type { PredictorLike } from '../../sidecar/src/predictor.js';
import { createSidecarServer } from '../../sidecar/src/server.js';
import { ReloadableTracing } from '../../sidecar/src/tracing.js';
import { bareInferHandler, benchAuth, benchConfig, INFER_BODY, loadMlpPredictor } from './common.js';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, bare: { type: 'boolean', default: false }, 'fake-predictor': { type: 'boolean', default: false } } });
const real = await loadMlpPredictor();
const once = await real.run({ x: { dtype: 'float32', shape: [1, 64], data: new Float32Array(64) } });
const predictor: PredictorLike = values['fake-predictor']
  ? { run: () => Promise.resolve({ ...once }), inputs: () => real.inputs(), outputs: () => real.outputs(), info: () => real.info(), stats: () => real.stats(), dispose: () => real.dispose() }
  : real;
const creds = await benchAuth('sidecar-prof-');
const loggers = createLoggers({ service: 'paddle-sidecar', sinks: { out: { write: () => undefined }, deadLetter: { write: () => undefined } } });
// What main.ts runs without an OTLP endpoint.
const tracing = new ReloadableTracing({ serviceName: 'bench' });
const sidecar = await createApp({ config: benchConfig(creds), predictor, registry: new Registry(), loggers, tracer: tracing.tracer, device: 'cpu' });
sidecar.start();
const server = createSidecarServer({ handler: values.bare ? bareInferHandler(predictor) : sidecar.handler });
const port = await server.listen(0, '127.0.0.1');
const r = await autocannon({
  url: `http://127.0.0.1:${port}/v2/models/mlp/infer`,
  method: 'POST',
  body: INFER_BODY,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${creds.token}`, 'x-env-id': 'bench', 'x-test-group': 'control' },
  connections: 8,
  duration: Number(values.duration),
  workers: 1,
});
console.log(`req/s ${r.requests.average}, p50 ${r.latency.p50} ms, non-2xx ${r.non2xx}`);
sidecar.close();
await server.close();
await tracing.shutdown();
