// Drives the full chain (the same setup as bench.ts: auth on, HS256, CORS, metrics, spans,
// schema-checked logs) with autocannon for a while, for a CPU profile of the per-request cost:
//
//   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/sidecar/profile.ts [--duration 10] [--bare]
//
// autocannon runs in a worker thread, so the main thread's profile is the server alone; --bare
// profiles bench.ts's bare node:http reference instead. Summarise the main thread's .cpuprofile
// (the first file) with bench/sidecar/profile-summary.ts.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { SignJWT } from 'jose';
import { Registry } from 'prom-client';
import { Predictor } from '../../native/lib/index.js';
import { createApp } from '../../sidecar/src/app.js';
import { parseSidecarConfig } from '../../sidecar/src/config.js';
import { createLoggers } from '../../sidecar/src/logging.js';
import { createSidecarServer } from '../../sidecar/src/server.js';
import { createTracerProvider } from '../../sidecar/src/tracing.js';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, bare: { type: 'boolean', default: false } } });
const ROOT = new URL('../../', import.meta.url).pathname;
const predictor = await Predictor.load({
  modelDir: join(ROOT, 'native/fixtures/models/mlp/legacy'),
  publicKeyPem: readFileSync(join(ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem'), 'utf8'),
  cpuThreads: 1,
});
const dir = mkdtempSync(join(tmpdir(), 'sidecar-prof-'));
// Text, as a Secret holds it: raw random bytes ending in CR/LF would be trimmed below 32 bytes.
const secret = Buffer.from(randomBytes(48).toString('base64url'));
writeFileSync(join(dir, 'hmac.key'), secret);
const cfg = parseSidecarConfig(
  JSON.stringify({
    version: 1,
    model: { name: 'mlp' },
    auth: { enabled: true, issuer: 'bench', audience: 'bench', hmacSecretFile: join(dir, 'hmac.key'), policies: [{ path: '/v1/predict', domain: 'model_inference', callsPerMinute: 1000000 }] },
    cors: { allowedOrigins: ['https://console.example.com'] },
  }),
);
if (!cfg.ok) throw new Error(cfg.error);
const loggers = createLoggers({ service: 'paddle-sidecar', sinks: { out: { write: () => undefined }, deadLetter: { write: () => undefined } } });
const provider = createTracerProvider({ serviceName: 'bench' });
const sidecar = await createApp({ config: cfg.config, predictor, registry: new Registry(), loggers, tracer: provider.getTracer('bench'), device: 'cpu' });
sidecar.start();
const bare = (req: IncomingMessage, res: ServerResponse): void => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { inputs: { name: string; shape: number[]; data: number[] }[] };
      const inp = parsed.inputs[0];
      if (!inp) throw new Error('no input');
      const out = await predictor.run({ [inp.name]: { dtype: 'float32', shape: inp.shape, data: Float32Array.from(inp.data) } });
      const outputs = Object.entries(out).map(([name, t]) => ({ name, shape: t.shape, datatype: 'FP32', data: Array.from(t.data as Float32Array) }));
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ model_name: 'mlp', outputs }));
    })();
  });
};
const server = values.bare ? createSidecarServer({ handler: bare }) : createSidecarServer({ handler: sidecar.handler });
const port = await server.listen(0, '127.0.0.1');
const token = await new SignJWT({ scope: 'model_inference' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setIssuer('bench').setAudience('bench').setExpirationTime('1h').sign(secret);
const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, (_, i) => ((i % 13) - 6) / 10) }] });
const r = await autocannon({
  url: `http://127.0.0.1:${port}/v2/models/mlp/infer`,
  method: 'POST',
  body,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-env-id': 'bench', 'x-test-group': 'control' },
  connections: 8,
  duration: Number(values.duration),
  workers: 1,
});
console.log(`req/s ${r.requests.average}, p50 ${r.latency.p50} ms, non-2xx ${r.non2xx}`);
sidecar.close();
await server.close();
await provider.shutdown();
