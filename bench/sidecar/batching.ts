// Dynamic batching (issue 19): the full REST chain (auth on, access log, the default queue: one
// run slot) on the MLP and transformer fixtures (real addon, one CPU thread), batching off vs on,
// at 1, 8 and 32 connections, each caller sending batch-1 requests (MLP: x [1, 64]; transformer:
// tokens [1, 16]). Off and on alternate within each round; the on/off figure is the median of the
// rounds' ratios. Printed per fixture:
//   - throughput: req/s off and on, on/off per round and its median;
//   - latency in microseconds: client-side p50/p99 (http-load.ts: autocannon's per-response
//     times, which its own result rounds to whole ms), and server-side, from each served
//     request's access line (`phases_ms`, 1 us resolution): `batch` the wait in the batcher's
//     queue, `run` the run it shared until its outputs were back on the main thread, and their
//     sum, the time the batcher adds, whose p99 is held against the issue's bound
//     max queue delay + one batch run (the median of 40 runs of maxBatchSize rows, timed here
//     on the idle predictor) and against that plus the run in flight when a request arrives;
//   - the batch sizes formed (runs by the requests they served) and the mean;
//   - CPU per request and the main thread's busy share (event-loop utilisation);
//   - below saturation (`--rates`): the same figures at fixed offered rates, fractions of the
//     batching-on throughput at the highest concurrency, with open-loop Poisson arrivals
//     (rate-load.ts: a request's latency counts from when it was due). A closed loop at 32
//     connections saturates the server by construction: each request's latency there is 32 /
//     throughput (Little's law), which no batcher can bring under one run. The bound is a
//     promise about a server that keeps up, so it is held against these rows.
// Figures only; never asserts timings.
//
//   npx tsx bench/sidecar/batching.ts [--duration 2] [--rounds 5] [--fixtures mlp,transformer]
//     [--conc 1,8,32] [--delay-us 0] [--max-batch 32] [--preferred 8,16]
//     [--rates 0.25,0.5,0.75 (none: '')] [--rate-conns 64]

import { execFile, execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { Predictor } from '../../native/lib/index.js';
import { createApp } from '../../sidecar/src/app.js';
import { BatchingLineSink } from '../../sidecar/src/log-sinks.js';
import { createLoggers } from '../../sidecar/src/logging.js';
import { createSidecarServer } from '../../sidecar/src/server.js';
import { ReloadableTracing } from '../../sidecar/src/tracing.js';
import type { Tensor } from '../../sidecar/src/predictor.js';
import { SHORT_RUN_OVERLAP } from '../../sidecar/src/pipeline/predict.js';
import { SHORT_RUN_MS } from '../../sidecar/src/pipeline/queue.js';
import { benchAuth, benchConfig, benchInlineRunUs, mainLimits, median, ROOT, type BenchAuth } from './common.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    fixtures: { type: 'string', default: 'mlp,transformer' },
    conc: { type: 'string', default: '1,8,32' },
    'delay-us': { type: 'string', default: '0' },
    'max-batch': { type: 'string', default: '32' },
    preferred: { type: 'string', default: '' },
    rates: { type: 'string', default: '0.25,0.5,0.75' },
    'rate-conns': { type: 'string', default: '64' },
    'pin-server': { type: 'string', default: '' },
    'pin-load': { type: 'string', default: '' },
  },
});
const DURATION = Number(values.duration);
const ROUNDS = Number(values.rounds);
const MAX_BATCH = Number(values['max-batch']);
const DELAY_US = Number(values['delay-us']);
const PREFERRED = values.preferred ? values.preferred.split(',').map(Number) : [];
const CONCS = values.conc.split(',').map(Number);
const RATES = values.rates ? values.rates.split(',').map(Number) : [];
const RATE_CONNS = Number(values['rate-conns']);
// CPU pinning (taskset lists, e.g. --pin-server 1 --pin-load 0): on a 2-core machine the load
// generator otherwise shares the server's cores, and the kernel's time slices (milliseconds)
// land in the server's latency tail; a client of a pod runs on another machine. Unset: no pinning.
const PIN_SERVER = values['pin-server'];
const PIN_LOAD = values['pin-load'];
if (PIN_SERVER) execFileSync('taskset', ['-a', '-p', '-c', PIN_SERVER, String(process.pid)], { stdio: 'ignore' });

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

/** What http-load.ts and rate-load.ts print (`due`, `late`, `lost`: rate-load.ts only). */
interface Load {
  requests: number;
  non2xx: number;
  rate: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  due?: number;
  late?: number;
  lost?: number;
}

/** Runs a load against `url` in a child process. */
type Loader = (url: string, bodyFile: string, token: string) => Promise<Load>;

/** One served request as its access line tells it (us). */
interface Served {
  batchUs: number;
  runUs: number;
  requests: number;
}

/** One off/on cell: the load's figures and the served requests' access lines. */
interface Cell {
  load: Load;
  served: Served[];
  /** The server process's CPU time per served request (all threads), us. */
  cpuUs: number;
  /** Event-loop utilisation of the main thread during the load (1: never idle). */
  elu: number;
  /** How late the main thread ran a timer during the load (monitorEventLoopDelay), us p99: how long any completion can wait for it. */
  loopDelayP99Us: number;
}

/** The period of the event-loop delay timer (ms); node records each interval whole, so the period is subtracted. */
const LOOP_TIMER_MS = 5;

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
};
const us = (n: number): string => String(Math.round(n));
/** p50/p99 of `xs` in a table cell. */
const pair = (xs: number[]): string => `${us(q(xs, 0.5))}/${us(q(xs, 0.99))}`.padStart(12);
/** The batcher's p99 against the issue's bound, and against it plus the run in flight. */
const boundVerdict = (p99: number, bound: number, boundInFlight: number): string => (p99 <= bound ? 'yes' : p99 <= boundInFlight ? 'no; <= + one run in flight' : 'no');

function runLoad(script: string, args: string[]): Promise<Load> {
  return new Promise((resolve, reject) =>
    execFile(
      PIN_LOAD ? 'taskset' : process.execPath,
      [...(PIN_LOAD ? ['-c', PIN_LOAD, process.execPath] : []), '--import', 'tsx', join(ROOT, 'bench/sidecar', script), ...args],
      { cwd: ROOT, maxBuffer: 1 << 20 },
      (err, out) => (err ? reject(err) : resolve(JSON.parse(out) as Load)),
    ),
  );
}

/** Closed loop: `conns` callers, each sending its next request when the last is answered. */
const closedLoop =
  (conns: number, seconds: number): Loader =>
  (url, bodyFile, token) =>
    runLoad('http-load.ts', [url, String(conns), String(seconds), bodyFile, `authorization=Bearer ${token}`]);

/** Open loop: Poisson arrivals at `rate` req/s over up to RATE_CONNS keep-alive connections. */
const offeredRate =
  (rate: number, seconds: number): Loader =>
  (url, bodyFile, token) =>
    runLoad('rate-load.ts', [url, String(rate), String(seconds), bodyFile, String(RATE_CONNS), `authorization=Bearer ${token}`]);

/** Serves the fixture through the full chain with batching off or on for one load run. */
async function cell(fx: Fixture, predictor: Predictor, auth: BenchAuth, bodyFile: string, enabled: boolean, loader: Loader): Promise<Cell> {
  const base = benchConfig(auth);
  const config = { ...base, model: { name: fx.name }, batching: { enabled, maxBatchSize: MAX_BATCH, maxQueueDelayMicroseconds: DELAY_US, preferredBatchSizes: PREFERRED } };
  // The access lines go to a file as a pod's go to stdout (batched per event-loop turn, one write
  // each), and are read back after the load. Kept in this process's memory, every line survived
  // the young generation: scavenges of 3-9 ms every ~0.3 s, which the server's latency tail
  // carried (--trace-gc, 2026-12-07).
  const logPath = join(auth.dir, 'access.log');
  const logFd = openSync(logPath, 'w');
  const out = new BatchingLineSink((chunk) => void writeSync(logFd, chunk));
  const loggers = createLoggers({ service: 'paddle-sidecar', level: 'info', sinks: { out, deadLetter: { write: (l) => process.stderr.write(l) } } });
  const tracing = new ReloadableTracing({ serviceName: 'bench' });
  const app = await createApp({ config, predictor, registry: new Registry(), loggers, tracer: tracing.tracer, device: 'cpu', inlineRunMicros: benchInlineRunUs() });
  app.start();
  const server = createSidecarServer({ handler: app.handler, limits: mainLimits() });
  const port = await server.listen(0, '127.0.0.1');
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_TIMER_MS });
  loopDelay.enable();
  const r = await loader(`http://127.0.0.1:${port}/v2/models/${fx.name}/infer`, bodyFile, auth.token);
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0).utilization;
  loopDelay.disable();
  await new Promise((res) => setTimeout(res, 200));
  await server.close();
  app.close();
  await tracing.shutdown(500);
  out.flush();
  closeSync(logFd);
  const served: Served[] = [];
  for (const l of readFileSync(logPath, 'utf8').split('\n')) {
    if (!l.includes('"phases_ms"') || !l.includes('"status":200')) continue;
    const rec = JSON.parse(l) as { phases_ms: Record<string, number>; batch?: { requests: number } };
    served.push({ batchUs: (rec.phases_ms.batch ?? 0) * 1000, runUs: (rec.phases_ms.run ?? 0) * 1000, requests: rec.batch?.requests ?? 1 });
  }
  return { load: r, served, cpuUs: (cpu.user + cpu.system) / Math.max(1, r.requests), elu, loopDelayP99Us: Math.max(0, loopDelay.percentile(99) - LOOP_TIMER_MS * 1e6) / 1000 };
}

/** Runs by the number of requests they served, in power-of-two buckets, from the requests' own counts. */
function histogram(served: Served[]): string {
  const runsBy = new Map<number, number>();
  for (const s of served) runsBy.set(s.requests, (runsBy.get(s.requests) ?? 0) + 1 / s.requests);
  const buckets: [string, number, number][] = [];
  for (let lo = 1; lo <= MAX_BATCH; lo *= 2) buckets.push([lo === Math.min(lo * 2 - 1, MAX_BATCH) ? String(lo) : `${lo}-${Math.min(lo * 2 - 1, MAX_BATCH)}`, lo, Math.min(lo * 2 - 1, MAX_BATCH)]);
  let runs = 0;
  for (const n of runsBy.values()) runs += n;
  const parts = buckets.map(([label, lo, hi]) => {
    let n = 0;
    for (const [size, count] of runsBy) if (size >= lo && size <= hi) n += count;
    return `${label}: ${Math.round(n)}`;
  });
  return `${Math.round(runs)} runs, ${(served.length / Math.max(1, runs)).toFixed(1)} requests/run; runs by requests served: ${parts.join(', ')}`;
}

const auth = await benchAuth('batching-bench-');
console.log(`\ndynamic batching: full REST chain (auth on, access log on, queue default: 1 run slot; off: runs under ${SHORT_RUN_MS} ms overlap up to ${SHORT_RUN_OVERLAP}; on: one batch in flight), predictor cpuThreads 1, batch-1 requests`);
console.log(`  runs inline up to ${benchInlineRunUs()} us when alone in a quiet turn (--inline-run-us, BENCH_INLINE_RUN_US; a batch of one request placed alike, merged batches on the pool)`);
console.log(`  on = spec.batching {enabled: true, maxBatchSize: ${MAX_BATCH}, maxQueueDelayMicroseconds: ${DELAY_US}, preferredBatchSizes: [${PREFERRED.join(', ')}]}; off = enabled: false`);
console.log(`  ${ROUNDS} rounds x ${DURATION} s per cell, off and on alternating; load: http-load.ts (autocannon, per-response times in us), own process`);
console.log(`  CPU pinning: server (every thread) ${PIN_SERVER ? `on CPUs ${PIN_SERVER}` : 'not pinned'}, load generator ${PIN_LOAD ? `on CPUs ${PIN_LOAD}` : 'not pinned'} (--pin-server, --pin-load)`);
console.log(`  machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
for (const key of values.fixtures.split(',')) {
  const fx = FIXTURES[key];
  if (!fx) throw new Error(`unknown fixture ${key}`);
  const predictor = await Predictor.load({
    modelDir: join(ROOT, `native/fixtures/models/${fx.name}/legacy`),
    publicKeyPem: readFileSync(join(ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem'), 'utf8'),
    cpuThreads: 1,
  });
  const bodyFile = join(auth.dir, `${fx.name}.json`);
  writeFileSync(bodyFile, fx.body);
  // One run of a full batch on the idle predictor: the bound's second term.
  const full: Record<string, Tensor> = {};
  for (const [n, t] of Object.entries(fx.row())) {
    const per = t.data.length;
    const data = t.data instanceof BigInt64Array ? new BigInt64Array(per * MAX_BATCH) : new Float32Array(per * MAX_BATCH);
    for (let r = 0; r < MAX_BATCH; r++) (data as Float32Array).set(t.data as Float32Array, r * per);
    full[n] = { dtype: t.dtype, shape: [MAX_BATCH, ...t.shape.slice(1)], data };
  }
  const runs: number[] = [];
  for (let i = 0; i < 50; i++) {
    const s = process.hrtime.bigint();
    await predictor.run(full);
    runs.push(Number(process.hrtime.bigint() - s) / 1e3);
  }
  const idle = runs.slice(10);
  const fullRunUs = q(idle, 0.5);
  const bound = DELAY_US + fullRunUs;
  const boundInFlight = DELAY_US + 2 * fullRunUs;
  // Warm-up (JIT, caches), not reported.
  for (const enabled of [false, true]) await cell(fx, predictor, auth, bodyFile, enabled, closedLoop(8, 1));
  console.log(`\n${fx.name}: one run of ${MAX_BATCH} rows on the idle predictor (JS call to promise settled, 40 runs): p50 ${us(fullRunUs)} us, p99 ${us(q(idle, 0.99))} us`);
  console.log(`  bound (issue) = max queue delay + one batch run (its median) = ${DELAY_US} + ${us(fullRunUs)} = ${us(bound)} us; with the run in flight at arrival (one run slot): + one more run = ${us(boundInFlight)} us`);
  const rows: string[] = [];
  const lat: string[] = [];
  const hist: string[] = [];
  const rounds: string[] = [];
  const floor: string[] = [];
  /** Batching on's throughput at the highest concurrency: what the offered rates are fractions of. */
  let capacity = 0;
  for (const conc of CONCS) {
    const label = String(conc).padStart(6);
    const cells: Record<'off' | 'on', Cell[]> = { off: [], on: [] };
    const ratios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [false, true] : [true, false];
      const got: Partial<Record<'off' | 'on', Cell>> = {};
      for (const enabled of order) got[enabled ? 'on' : 'off'] = await cell(fx, predictor, auth, bodyFile, enabled, closedLoop(conc, DURATION));
      cells.off.push(got.off as Cell);
      cells.on.push(got.on as Cell);
      ratios.push((got.on as Cell).load.rate / Math.max(1, (got.off as Cell).load.rate));
      const on = got.on as Cell;
      const off = got.off as Cell;
      const perRun = on.served.length / Math.max(1, on.served.reduce((a, s) => a + 1 / s.requests, 0));
      rounds.push(`${label} | round ${round + 1} (${order[0] ? 'on' : 'off'} first): off ${off.load.rate.toFixed(0)} req/s, ${off.cpuUs.toFixed(0)} us/req; on ${on.load.rate.toFixed(0)} req/s, ${on.cpuUs.toFixed(0)} us/req, ${perRun.toFixed(1)} requests/run; on/off ${(on.load.rate / Math.max(1, off.load.rate)).toFixed(2)}x`);
    }
    const rate = (cs: Cell[]): number => median(cs.map((c) => c.load.rate));
    const non2xx = [...cells.off, ...cells.on].reduce((a, c) => a + c.load.non2xx, 0);
    const cpuElu = (cs: Cell[]): string => `${median(cs.map((c) => c.cpuUs)).toFixed(0)} / ${median(cs.map((c) => c.elu)).toFixed(2)}`;
    rows.push(`${label} | ${rate(cells.off).toFixed(0).padStart(9)} | ${rate(cells.on).toFixed(0).padStart(8)} | ${`${median(ratios).toFixed(2)}x`.padStart(6)} (${ratios.map((r) => r.toFixed(2)).join(', ')}) | ${cpuElu(cells.off).padStart(10)} | ${cpuElu(cells.on).padStart(10)}${non2xx ? ` | ${non2xx} non-2xx` : ''}`);
    const client = (cs: Cell[]): string => `${us(median(cs.map((c) => c.load.p50Us)))}/${us(median(cs.map((c) => c.load.p99Us)))}`;
    const on = cells.on.flatMap((c) => c.served);
    const offRun = cells.off.flatMap((c) => c.served.map((s) => s.runUs));
    const wait = on.map((s) => s.batchUs);
    const run = on.map((s) => s.runUs);
    const added = on.map((s) => s.batchUs + s.runUs);
    const verdict = boundVerdict(q(added, 0.99), bound, boundInFlight);
    // What the batcher itself decides: a request waits for at most the delay and the run in flight (p99 of the runs under this load).
    const waitVerdict = q(wait, 0.99) <= DELAY_US + q(run, 0.99) ? 'yes' : 'no';
    lat.push(`${label} | ${client(cells.off).padStart(13)} | ${client(cells.on).padStart(13)} | ${pair(offRun)} | ${pair(wait)} | ${pair(run)} | ${pair(added)} | ${verdict.padEnd(26)} | ${waitVerdict}`);
    hist.push(`${label} | ${histogram(on)}`);
    // The closed loop's own floor: with `conc` callers each waiting for its answer, the mean
    // latency is conc / throughput (Little's law) whatever the batcher does, and a run's
    // completion reaches the main thread only after the callbacks already running there (the
    // loop delay) - the same for batching off.
    const onRate = rate(cells.on);
    if (conc === Math.max(...CONCS)) capacity = onRate;
    const mainUs = (median(cells.on.map((c) => c.elu)) * 1e6) / Math.max(1, onRate);
    const loopP99 = (cs: Cell[]): string => us(median(cs.map((c) => c.loopDelayP99Us)));
    floor.push(`${label} | ${us((conc * 1e6) / Math.max(1, onRate)).padStart(12)} | ${us(mainUs).padStart(16)} | ${loopP99(cells.off).padStart(14)} | ${loopP99(cells.on).padStart(13)} | ${us(q(run, 0.99)).padStart(10)}`);
  }
  console.log('  conc | off req/s | on req/s | on/off median (per round) | off CPU us/req / main-thread busy | on');
  for (const r of rows) console.log(r);
  console.log('  latency, us, p50/p99: client = autocannon per response; server = access line phases: off run = the request\'s own run; on: batch = wait in the batcher, run = the shared run to outputs back on the main thread, batcher = batch + run');
  console.log('  conc | client off    | client on     | off run      | on batch     | on run       | on batcher   | on batcher p99 <= bound    | on batch p99 <= delay + on run p99');
  for (const l of lat) console.log(l);
  console.log(`  the closed loop's floor (batching on; loop delay: how late the main thread ran a ${LOOP_TIMER_MS} ms timer, p99 over the cell, median of the rounds; what any callback, a run's completion included, can wait for the main thread, on or off):`);
  console.log('  conc | conc / req/s | main-thread / req | loop delay off | loop delay on | on run p99 (us)');
  for (const f of floor) console.log(f);
  console.log('  each round (CPU: the server process, all threads):');
  for (const r of rounds) console.log(r);
  console.log('  batch sizes formed (batching on, all rounds):');
  for (const h of hist) console.log(h);
  if (RATES.length > 0 && capacity > 0) {
    console.log(`  below saturation: open-loop Poisson arrivals at fractions of batching on's ${us(capacity)} req/s at ${Math.max(...CONCS)} connections, over up to ${RATE_CONNS} connections (rate-load.ts; client latency from when each request was due); ${ROUNDS} rounds x ${DURATION} s, off and on alternating; p50/p99 in us, medians of the rounds (client) or over every served request (server)`);
    console.log('  offered req/s | served off / on | client off    | client on     | late off / on | on batch     | on run       | on batcher   | on batcher p99 <= bound    | requests/run');
    for (const fraction of RATES) {
      const offered = Math.round(fraction * capacity);
      const cells: Record<'off' | 'on', Cell[]> = { off: [], on: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const enabled of round % 2 === 0 ? [false, true] : [true, false]) cells[enabled ? 'on' : 'off'].push(await cell(fx, predictor, auth, bodyFile, enabled, offeredRate(offered, DURATION)));
      }
      const served = (cs: Cell[]): string => median(cs.map((c) => c.load.rate)).toFixed(0);
      const client = (cs: Cell[]): string => `${us(median(cs.map((c) => c.load.p50Us)))}/${us(median(cs.map((c) => c.load.p99Us)))}`.padStart(13);
      const late = (cs: Cell[]): string => `${((100 * cs.reduce((a, c) => a + (c.load.late ?? 0), 0)) / Math.max(1, cs.reduce((a, c) => a + (c.load.due ?? 0), 0))).toFixed(1)}%`;
      const lost = [...cells.off, ...cells.on].reduce((a, c) => a + (c.load.lost ?? 0) + c.load.non2xx, 0);
      const on = cells.on.flatMap((c) => c.served);
      const added = on.map((s) => s.batchUs + s.runUs);
      const verdict = boundVerdict(q(added, 0.99), bound, boundInFlight);
      const perRun = on.length / Math.max(1, on.reduce((a, s) => a + 1 / s.requests, 0));
      console.log(`  ${`${us(offered)} (${fraction})`.padStart(13)} | ${`${served(cells.off)} / ${served(cells.on)}`.padStart(15)} | ${client(cells.off)} | ${client(cells.on)} | ${`${late(cells.off)} / ${late(cells.on)}`.padStart(13)} | ${pair(on.map((s) => s.batchUs))} | ${pair(on.map((s) => s.runUs))} | ${pair(added)} | ${verdict.padEnd(26)} | ${perRun.toFixed(1)}${lost ? ` (${lost} not answered 2xx)` : ''}`);
    }
  }
  predictor.dispose();
}
console.log(`\ngoal: >= 2x at 32 connections on the MLP; p99 <= max queue delay + one batch run (server side, the time the batcher adds, below saturation: the offered-rate rows; see sidecar/README.md "Dynamic batching")`);
console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
