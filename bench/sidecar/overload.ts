// Overload: the real sidecar process (sidecar/src/main.ts, plain HTTP, auth off, the default
// spec.queue) serving the transformer fixture, flooded by many keep-alive connections that each
// send the next request as soon as the last is answered. Prints: p50/p99 of the served (200)
// requests, how many were shed (503 + Retry-After) and why, the liveness probe's latency on the
// health port during the flood (one probe every 100 ms, as a kubelet would but 100x as often),
// and the process RSS before, at its peak and a minute after. Goals (figures, not assertions):
// p99 served <= queue.maxQueueTimeMs + one run, liveness p99 <= 100 ms, RSS back within 10 %.
//
//   npx tsx bench/sidecar/overload.ts [--connections 200] [--duration 20] [--batch 3] [--seq 128] [--settle 60]
//     [--max-in-flight N] [--max-queued N] [--max-queue-time-ms N]   (unset: the defaults)

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_POLICIES, QUEUE_DEFAULTS } from '../../sidecar/src/config.js';
import { freePort, ROOT, sidecarProcess } from './common.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '200' },
    duration: { type: 'string', default: '20' },
    batch: { type: 'string', default: '3' },
    seq: { type: 'string', default: '128' },
    settle: { type: 'string', default: '60' },
    'max-in-flight': { type: 'string' },
    'max-queued': { type: 'string' },
    'max-queue-time-ms': { type: 'string' },
  },
});
const CONNECTIONS = Number(values.connections);
const DURATION_MS = Number(values.duration) * 1000;
const SETTLE_MS = Number(values.settle) * 1000;
const [BATCH, SEQ] = [Number(values.batch), Number(values.seq)];
const queue: Record<string, number> = {};
if (values['max-in-flight']) queue.maxInFlight = Number(values['max-in-flight']);
if (values['max-queued']) queue.maxQueued = Number(values['max-queued']);
if (values['max-queue-time-ms']) queue.maxQueueTimeMs = Number(values['max-queue-time-ms']);
const maxQueueTimeMs = queue.maxQueueTimeMs ?? QUEUE_DEFAULTS.maxQueueTimeMs;

const MODEL_DIR = join(ROOT, 'native/fixtures/models/transformer/legacy');
const PUBLIC_KEY = join(ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem');
const dir = mkdtempSync(join(tmpdir(), 'sidecar-overload-'));
// Auth off still rate-limits per client address: lift inference's limit, the queue is what is measured.
const policies = DEFAULT_POLICIES.map((p) => (p.domain === 'model_inference' ? { ...p, callsPerMinute: 1_000_000 } : p));
writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1, model: { name: 'encoder' }, auth: { enabled: false, policies }, queue }));

// --health-port 0 is "off", and the kubelet's probe port is what this measures: take a free one.
const probePort = await freePort();
// The served requests' access lines during the flood: their phases_ms split the latency.
let flooding = false;
let partial = '';
const phaseLines: Array<{ duration: number; phases: Record<string, number> }> = [];
const sidecar = await sidecarProcess(
  ['--no-tls', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--health-port', String(probePort), '--grpc-port', '0', '--model-dir', MODEL_DIR, '--public-key', PUBLIC_KEY, '--config', join(dir, 'config.json')],
  (text) => {
    if (!flooding) return;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (!l.includes('"phases_ms"') || !l.includes('"status":200')) continue;
      const rec = JSON.parse(l) as { duration_ms: number; phases_ms: Record<string, number> };
      phaseLines.push({ duration: rec.duration_ms, phases: rec.phases_ms });
    }
  },
);
const { child, healthPort, rss } = sidecar;

const tokens = Array.from({ length: BATCH * SEQ }, (_, i) => (i * 37) % 1000);
const BODY = JSON.stringify({ inputs: [{ name: 'tokens', datatype: 'INT64', shape: [BATCH, SEQ], data: tokens }] });
const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS + 8 });

function post(port: number, path: string, body?: string): Promise<{ status: number; ms: number; bytes: number; retryAfter?: string; error?: string }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      let bytes = 0;
      let text = '';
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (res.statusCode !== 200 && text.length < 300) text += c.toString();
      });
      res.on('end', () => {
        const r: { status: number; ms: number; bytes: number; retryAfter?: string; error?: string } = { status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - started) / 1e6, bytes };
        if (res.headers['retry-after']) r.retryAfter = String(res.headers['retry-after']);
        if (res.statusCode !== 200) r.error = text;
        resolve(r);
      });
    });
    req.on('error', (err) => resolve({ status: 0, ms: Number(process.hrtime.bigint() - started) / 1e6, bytes: 0, error: err.message }));
    if (body) req.write(body);
    req.end();
  });
}

const q = (xs: number[], p: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
};
const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '-');

// ---- one run, alone (the "+ one run" of the goal): the median of a few sequential requests.
const idle: number[] = [];
for (let i = 0; i < 7; i++) {
  const r = await post(sidecar.port, '/v2/models/encoder/infer', BODY);
  if (r.status !== 200) throw new Error(`warm-up request failed: ${r.status} ${r.error ?? ''}`);
  idle.push(r.ms);
}
const oneRunMs = q(idle.slice(2), 0.5);
const responseBytes = (await post(sidecar.port, '/v2/models/encoder/infer', BODY)).bytes;
await new Promise((r) => setTimeout(r, 2000));
const rssBefore = rss();

// ---- the flood, with the probe beside it.
const served: number[] = [];
const shedBy = new Map<string, number>();
let otherErrors = 0;
let rssPeak = rssBefore;
const until = Date.now() + DURATION_MS;
const worker = async (): Promise<void> => {
  while (Date.now() < until) {
    const r = await post(sidecar.port, '/v2/models/encoder/infer', BODY);
    if (r.status === 200) served.push(r.ms);
    else if (r.status === 503 || r.status === 429) {
      const why = /no run slot/.test(r.error ?? '') ? 'queue_timeout' : /waiting/.test(r.error ?? '') ? 'overloaded (queue full)' : `other 503: ${(r.error ?? '').slice(0, 60)}`;
      shedBy.set(why, (shedBy.get(why) ?? 0) + 1);
      if (!r.retryAfter) shedBy.set('503 without Retry-After', (shedBy.get('503 without Retry-After') ?? 0) + 1);
    } else otherErrors++;
  }
};
const live: number[] = [];
let liveFailures = 0;
const prober = async (): Promise<void> => {
  while (Date.now() < until) {
    const r = await post(healthPort, '/v2/health/live');
    if (r.status === 200) live.push(r.ms);
    else liveFailures++;
    rssPeak = Math.max(rssPeak, rss());
    await new Promise((res) => setTimeout(res, 100));
  }
};
const loadAtStart = loadavg()[0] ?? 0;
flooding = true;
await Promise.all([prober(), ...Array.from({ length: CONNECTIONS }, worker)]);
agent.destroy();
await new Promise((r) => setTimeout(r, 500));
flooding = false;

// ---- a minute later.
await new Promise((r) => setTimeout(r, SETTLE_MS));
const rssAfter = rss();
child.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });

const shed = [...shedBy.values()].reduce((a, b) => a + b, 0);
const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;
const goalServed = maxQueueTimeMs + oneRunMs;
console.log(`\noverload on the transformer fixture (legacy format), tokens [${BATCH}, ${SEQ}] -> ${(responseBytes / 1024).toFixed(0)} KiB JSON answers; ${CONNECTIONS} keep-alive connections x ${DURATION_MS / 1000} s, each sending its next request as soon as the last is answered`);
console.log(`sidecar: main.ts, plain HTTP, auth off, cpuThreads 1, MALLOC_MMAP_THRESHOLD_=131072 MALLOC_ARENA_MAX=2 (as the image), queue ${JSON.stringify({ maxInFlight: queue.maxInFlight ?? '1 (cpuThreads)', maxQueued: queue.maxQueued ?? QUEUE_DEFAULTS.maxQueued, maxQueueTimeMs })}; load average at the start ${loadAtStart.toFixed(1)} on ${(await import('node:os')).availableParallelism()} cores`);
console.log('| figure | value | goal |');
console.log('| --- | ---: | --- |');
console.log(`| one run alone (median of 5 sequential requests) | ${fmt(oneRunMs)} ms | |`);
console.log(`| served (200) | ${served.length} (${(served.length / (DURATION_MS / 1000)).toFixed(1)}/s) | |`);
console.log(`| served p50 / p99 / max | ${fmt(q(served, 0.5))} / ${fmt(q(served, 0.99))} / ${fmt(Math.max(...served))} ms | p99 <= ${fmt(goalServed)} ms (maxQueueTimeMs + one run): ${q(served, 0.99) <= goalServed ? 'met' : 'NOT met'} |`);
console.log(`| shed (503 + Retry-After) | ${shed}: ${[...shedBy].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'} | |`);
console.log(`| other errors | ${otherErrors} | 0 |`);
console.log(`| liveness probes (health port) | ${live.length} ok, ${liveFailures} failed | |`);
console.log(`| liveness p50 / p99 / max | ${fmt(q(live, 0.5))} / ${fmt(q(live, 0.99))} / ${fmt(Math.max(...live))} ms | p99 <= 100 ms: ${q(live, 0.99) <= 100 ? 'met' : 'NOT met'} |`);
const PHASES = ['parse', 'queue', 'run', 'encode', 'write'] as const;
const total = phaseLines.map((l) => l.duration);
console.log(`| served, server side (arrival to last byte, ${phaseLines.length} access lines) p50 / p99 | ${fmt(q(total, 0.5))} / ${fmt(q(total, 0.99))} ms | |`);
const cut = q(total, 0.99);
const slowest = phaseLines.filter((l) => l.duration >= cut);
for (const name of PHASES) {
  const xs = phaseLines.map((l) => l.phases[name] ?? 0);
  const mean = slowest.reduce((a, l) => a + (l.phases[name] ?? 0), 0) / Math.max(1, slowest.length);
  console.log(`| phase ${name}: p50 / p99; mean in the slowest 1 % | ${fmt(q(xs, 0.5))} / ${fmt(q(xs, 0.99))}; ${fmt(mean)} ms | |`);
}
console.log(`| RSS before / peak / ${SETTLE_MS / 1000} s after | ${mib(rssBefore)} / ${mib(rssPeak)} / ${mib(rssAfter)} | after within 10 % of before: ${rssAfter <= rssBefore * 1.1 ? 'met' : 'NOT met'} (${(((rssAfter - rssBefore) / rssBefore) * 100).toFixed(1)} %) |`);
process.exit(0);
