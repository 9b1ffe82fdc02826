import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { trace } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { Predictor } from '../../native/lib/index.js';
import { createApp } from '../../sidecar/src/app.js';
import { parseSidecarConfig } from '../../sidecar/src/config.js';
import { createLoggers } from '../../sidecar/src/logging.js';
import { createSidecarServer } from '../../sidecar/src/server.js';
import { createTracerProvider } from '../../sidecar/src/tracing.js';
const ROOT = new URL('../../', import.meta.url).pathname;
const CANNON = join(ROOT, 'node_modules/autocannon/autocannon.js');
const predictor = await Predictor.load({ modelDir: join(ROOT, 'native/fixtures/models/mlp/legacy'), publicKeyPem: readFileSync(join(ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem'), 'utf8'), cpuThreads: 1 });
const dir = mkdtempSync(join(tmpdir(), 'sidecar-abl-'));
const secret = randomBytes(32);
writeFileSync(join(dir, 'hmac.key'), secret);
const mk = (auth: boolean) => { const c = parseSidecarConfig(JSON.stringify({ version: 1, model: { name: 'mlp' }, auth: { enabled: auth, issuer: 'bench', audience: 'bench', ...(auth ? { hmacSecretFile: join(dir, 'hmac.key') } : {}), policies: [{ path: '/v1/predict', domain: 'model_inference', callsPerMinute: 1000000 }] }, cors: { allowedOrigins: ['https://x'] } })); if (!c.ok) throw new Error(c.error); return c.config; };
const provider = createTracerProvider({ serviceName: 'bench' });
const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, (_, i) => ((i % 13) - 6) / 10) }] });
const bare = createServer((req, res) => { const ch: Buffer[] = []; req.on('data', (c: Buffer) => ch.push(c)); req.on('end', () => void (async () => { const p = JSON.parse(Buffer.concat(ch).toString()) as { inputs: { name: string; shape: number[]; data: number[] }[] }; const i = p.inputs[0]!; const out = await predictor.run({ [i.name]: { dtype: 'float32', shape: i.shape, data: Float32Array.from(i.data) } }); res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ model_name: 'mlp', outputs: Object.entries(out).map(([name, t]) => ({ name, shape: t.shape, datatype: 'FP32', data: Array.from(t.data as Float32Array) })) })); })()); });
await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
const targets: [string, number][] = [['bare', (bare.address() as AddressInfo).port]];
const variant = async (name: string, o: { auth: boolean; level: string; noopTracer: boolean }) => {
  const loggers = createLoggers({ service: 's', level: o.level, sinks: { out: { write: () => undefined }, deadLetter: { write: () => undefined } } });
  const sc = await createApp({ config: mk(o.auth), predictor, registry: new Registry(), loggers, tracer: o.noopTracer ? trace.getTracer('noop') : provider.getTracer('b'), device: 'cpu' });
  sc.start();
  const s = createSidecarServer({ handler: sc.handler });
  targets.push([name, await s.listen(0, '127.0.0.1')]);
};
await variant('full', { auth: true, level: 'info', noopTracer: false });
await variant('no logs', { auth: true, level: 'warn', noopTracer: false });
await variant('noop tracer', { auth: true, level: 'info', noopTracer: true });
await variant('no auth', { auth: false, level: 'info', noopTracer: false });
await variant('none of them', { auth: false, level: 'warn', noopTracer: true });
const token = await new SignJWT({ scope: 'model_inference' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setIssuer('bench').setAudience('bench').setExpirationTime('1h').sign(secret);
const res = new Map<string, number[]>();
const us = new Map<string, number[]>();
for (let round = 0; round < Number(process.argv[2] ?? 2); round++) for (const [name, port] of targets) {
  // autocannon in another process: this process's CPU time (user + system, all threads) per
  // request is the server's own cost, which machine load does not inflate the way it does
  // wall-clock figures.
  const c0 = process.cpuUsage();
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [CANNON, '-j', '-n', '-c', '8', '-d', '3', '-m', 'POST', '-H', 'content-type=application/json', '-H', `authorization=Bearer ${token}`, '-b', body, `http://127.0.0.1:${port}/v2/models/mlp/infer`], { maxBuffer: 1 << 24 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  const c = process.cpuUsage(c0);
  const r = JSON.parse(out) as { requests: { average: number; total: number } };
  res.set(name, [...(res.get(name) ?? []), r.requests.average]);
  us.set(name, [...(us.get(name) ?? []), (c.user + c.system) / r.requests.total]);
}
const b = Math.max(...(res.get('bare') ?? [1]));
const med = (xs: number[]) => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)] ?? 0;
const bu = med(us.get('bare') ?? [1]);
for (const [n, xs] of res) console.log(n.padEnd(14), 'req/s', xs.map((x) => x.toFixed(0)).join(' '), (Math.max(...xs) / b).toFixed(2), '| cpu us/req', (us.get(n) ?? []).map((x) => x.toFixed(0)).join(' '), 'median', med(us.get(n) ?? []).toFixed(0), 'ratio', (bu / med(us.get(n) ?? [])).toFixed(2));
process.exit(0);
