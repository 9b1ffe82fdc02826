// Where the chain's per-request cost goes: the full sidecar (dispatcher path) next to variants
// with one part switched off (main.ts's connection limits, access/audit logs, spans, JWT auth), and the bare node:http
// reference, interleaved for N rounds. autocannon runs in a child process, so this process's CPU
// time per request (user + system, all threads) is the servers' own cost.
//
//   npx tsx bench/sidecar/ablation.ts [rounds] [rate]
//
// With a rate (requests per second, below every variant's capacity), autocannon offers exactly
// that load to each server, so every variant makes the same number of kernel wake-ups per second
// and the CPU-per-request differences are the parts' own cost; at full speed (no rate) a slower
// server also pays more per request for waking its idle client.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { createApp } from '../../sidecar/src/app.js';
import { createLoggers } from '../../sidecar/src/logging.js';
import { createSidecarServer } from '../../sidecar/src/server.js';
import { ReloadableTracing } from '../../sidecar/src/tracing.js';
import { bareInferHandler, benchAuth, benchConfig, cannon, INFER_BODY, loadMlpPredictor, mainLimits, median } from './common.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const RATE = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const predictor = await loadMlpPredictor();
const creds = await benchAuth('sidecar-ablation-');
// What main.ts runs without an OTLP endpoint.
const tracing = new ReloadableTracing({ serviceName: 'bench' });
const body = INFER_BODY;

// The same bare reference as bench.ts.
const bare = createServer(bareInferHandler(predictor));
await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
const targets: [string, number][] = [['bare node:http', (bare.address() as AddressInfo).port]];

const variant = async (name: string, o: { auth: boolean; level: string; noopTracer: boolean; limits?: boolean }): Promise<void> => {
  const loggers = createLoggers({ service: 'paddle-sidecar', level: o.level, sinks: { out: { write: () => undefined }, deadLetter: { write: () => undefined } } });
  const sidecar = await createApp({
    config: benchConfig(creds, o.auth),
    predictor,
    registry: new Registry(),
    loggers,
    tracer: o.noopTracer ? trace.getTracer('noop') : tracing.tracer,
    device: 'cpu',
  });
  sidecar.start();
  // main.ts's connection limits unless switched off.
  const server = createSidecarServer({ handler: sidecar.handler, ...(o.limits === false ? {} : { limits: mainLimits() }) });
  targets.push([name, await server.listen(0, '127.0.0.1')]);
};
await variant('full chain', { auth: true, level: 'info', noopTracer: false });
await variant('no connection limits', { auth: true, level: 'info', noopTracer: false, limits: false });
await variant('no logs', { auth: true, level: 'warn', noopTracer: false });
await variant('noop tracer', { auth: true, level: 'info', noopTracer: true });
await variant('no auth', { auth: false, level: 'info', noopTracer: false });
await variant('none of them', { auth: false, level: 'warn', noopTracer: true });
const { token } = creds;

const rps = new Map<string, number[]>();
const cpuUs = new Map<string, number[]>();
const push = (m: Map<string, number[]>, k: string, v: number): void => void m.set(k, [...(m.get(k) ?? []), v]);
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, port] of targets) {
    const cpu0 = process.cpuUsage();
    const r = await cannon(`http://127.0.0.1:${port}/v2/models/mlp/infer`, { body, headers: { authorization: `Bearer ${token}` }, connections: 8, duration: 3, ...(RATE === undefined ? {} : { rate: RATE }) });
    const cpu = process.cpuUsage(cpu0);
    push(rps, name, r.requests.average);
    push(cpuUs, name, (cpu.user + cpu.system) / Math.max(1, r.requests.total));
  }
}
const bareCpu = median(cpuUs.get('bare node:http') ?? [1]);
const bareRps = median(rps.get('bare node:http') ?? [1]);
console.log(`medians of ${ROUNDS} interleaved rounds (autocannon 8 connections x 3 s, child process${RATE === undefined ? '' : `, offered ${RATE} req/s`})`);
console.log('| server | req/s | vs bare | cpu us/req | bare/this cpu |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [name] of targets) {
  const r = median(rps.get(name) ?? []);
  const c = median(cpuUs.get(name) ?? []);
  console.log(`| ${name} | ${r.toFixed(0)} | ${(r / bareRps).toFixed(2)}x | ${c.toFixed(0)} | ${(bareCpu / c).toFixed(2)}x |`);
}
process.exit(0);
