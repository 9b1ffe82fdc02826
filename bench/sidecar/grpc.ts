// gRPC full chain vs a bare @grpc/grpc-js server running the same model (issue 19).
//
// Bare: a grpc-js server on the sidecar's .proto whose ModelInfer reads raw_input_contents into
// a Float32Array, runs its MLP predictor (real addon, MLP fixture, one CPU thread, batch 1) and
// answers raw_output_contents; nothing else. Each server runs in a process of its own
// (serve-one.ts; before this session both shared this process and one predictor, so the bare
// reference paid for the idle chain's timers and heap). Chain: the sidecar's gRPC front end (grpc/server.ts) over
// createApp with auth on (HS256 token in the authorization metadata, default-deny policies,
// rate limiter, breaker, queue, metrics, spans, access and audit lines). Both plain h2c on
// loopback; the load generator (grpc-load.ts) is a child process with `--concurrency` callers.
// Rounds interleave the two servers; prints each round's ratio and the median. No assertions.
// Before the rounds both servers get the same unmeasured warm-up load (`--warmup` seconds each):
// the chain runs about three times as much JavaScript per call as the bare server, and until V8
// has optimised it, its compiler threads take CPU from the same two cores (on a 2-core VM, perf
// showed 30-55 us per call of TurboFan work in the first seconds, falling to a few us once warm).
// The figures are the steady state of both servers.
//
// After the rounds, the headline ratio also comes from back-to-back pairs of short windows
// (`--pairs`, `--pair-duration`), bare and chain in ABBA order, as bench.ts does for REST: the
// machine's drift within a pair is seconds, not the gap between two servers' windows in a round.
//
//   npx tsx bench/sidecar/grpc.ts [--duration 5] [--concurrency 8] [--rounds 3] [--warmup 5] [--max-in-flight 1]
//     [--pairs 8] [--pair-duration 3]

import { execFile } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { SHORT_RUN_OVERLAP } from '../../sidecar/src/pipeline/predict.js';
import { SHORT_RUN_MS } from '../../sidecar/src/pipeline/queue.js';
import { forkServer, median, pairedWindows, ROOT, type ServerProcess } from './common.js';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' }, warmup: { type: 'string', default: '5' }, 'max-in-flight': { type: 'string', default: '1' }, pairs: { type: 'string', default: '8' }, 'pair-duration': { type: 'string', default: '3' } } });

// As main.ts runs it (and bench.ts's REST chain): queue.maxInFlight from the CPU threads (1), admission with the memory budget on.
const MAX_IN_FLIGHT = Number(values['max-in-flight']);
const bareServer = await forkServer('grpc-bare');
const chainServer = await forkServer('grpc-chain', MAX_IN_FLIGHT);

interface Load { requests: number; errors: number; seconds: number; p50Ms: number; p99Ms: number; cpuUsPerReq: number }
/** Runs the load child against `server`; cpuUsPerReq is that server process's CPU per request during it. */
async function load(server: ServerProcess, seconds = values.duration): Promise<Load> {
  const cpu0 = await server.cpuUs();
  const token = server.headers.token;
  const r = await new Promise<Omit<Load, 'cpuUsPerReq'>>((ok, fail) =>
    execFile(process.execPath, ['--import', 'tsx', `${ROOT}bench/sidecar/grpc-load.ts`, server.url, values.concurrency, seconds, ...(token ? [token] : [])], { cwd: ROOT }, (e, out) => {
      if (e) return fail(e);
      ok(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Omit<Load, 'cpuUsPerReq'>);
    }),
  );
  const cpu = (await server.cpuUs()) - cpu0;
  // The child's warm-up calls (50) count too.
  return { ...r, cpuUsPerReq: cpu / (r.requests + 50) };
}

const chainInfo = await chainServer.info();
console.log(`\ngRPC ModelInfer on the MLP fixture (raw_input_contents, batch 1), h2c loopback; ${values.concurrency} concurrent callers x ${values.duration}s, ${values.rounds} interleaved rounds`);
console.log('  bare: @grpc/grpc-js server, same .proto, raw bytes -> a run placed as the chain places it -> raw bytes (its own MLP predictor, 1 CPU thread, in a process of its own)');
console.log(`  machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
console.log(`  chain: sidecar gRPC front end, auth on (HS256, authorization metadata), policies, limiter, admission, breaker, queue (maxInFlight ${MAX_IN_FLIGHT}, as main.ts with 1 CPU thread; short runs, under ${SHORT_RUN_MS} ms, up to ${MAX_IN_FLIGHT * SHORT_RUN_OVERLAP}), batching ${chainInfo.batching ? 'on' : 'off (the default config)'}, metrics, spans, access + audit lines; in a process of its own`);
if (Number(values.warmup) > 0) {
  // Unmeasured: the same load on each server first (JIT, caches, connection); see the header.
  await load(bareServer, values.warmup);
  await load(chainServer, values.warmup);
  console.log(`  warm-up: ${values.warmup} s of the same load on each server before the rounds, not counted`);
}
const ratios: number[] = [];
const rows: { bare: number[]; chain: number[]; bareCpu: number[]; chainCpu: number[] } = { bare: [], chain: [], bareCpu: [], chainCpu: [] };
for (let r = 0; r < Number(values.rounds); r++) {
  const b = await load(bareServer);
  const c = await load(chainServer);
  if (b.errors || c.errors) console.log(`  round ${r + 1}: errors bare ${b.errors}, chain ${c.errors}`);
  const br = b.requests / b.seconds;
  const cr = c.requests / c.seconds;
  rows.bare.push(br);
  rows.chain.push(cr);
  rows.bareCpu.push(b.cpuUsPerReq);
  rows.chainCpu.push(c.cpuUsPerReq);
  ratios.push(cr / br);
  console.log(`  round ${r + 1}: bare ${br.toFixed(0)} req/s (p50 ${b.p50Ms.toFixed(2)} ms, p99 ${b.p99Ms.toFixed(2)}), chain ${cr.toFixed(0)} req/s (p50 ${c.p50Ms.toFixed(2)}, p99 ${c.p99Ms.toFixed(2)}), chain/bare ${(cr / br).toFixed(2)}x; server CPU us/req bare ${b.cpuUsPerReq.toFixed(0)}, chain ${c.cpuUsPerReq.toFixed(0)}`);
}
console.log(`gRPC median: bare ${median(rows.bare).toFixed(0)} req/s, chain ${median(rows.chain).toFixed(0)} req/s; paired chain/bare median ${median(ratios).toFixed(2)}x (goal >= 0.8x); server CPU us/req bare ${median(rows.bareCpu).toFixed(0)}, chain ${median(rows.chainCpu).toFixed(0)} (bare/chain ${(median(rows.bareCpu) / median(rows.chainCpu)).toFixed(2)}x)`);
// The headline pairs (pairedWindows in common.ts: ABBA order, so a linear drift cancels over two pairs).
const PAIRS = Number(values.pairs);
if (PAIRS > 0) {
  const pairs = await pairedWindows(PAIRS, async (which) => {
    const r = await load(which === 'bare' ? bareServer : chainServer, values['pair-duration']);
    if (r.errors) console.log(`  pair window ${which}: ${r.errors} errors`);
    // CPU per call over the window, its 50 unmeasured warm-up calls counted, as in the rounds.
    return { rate: r.requests / r.seconds, requests: r.requests, cpuUs: r.cpuUsPerReq * (r.requests + 50), cpuCalls: r.requests + 50 };
  });
  const { bare: cpuB, chain: cpuC } = pairs.cpuUsPerCall;
  console.log(`gRPC paired windows (${PAIRS} pairs of ${values['pair-duration']} s, ABBA order, ${values.concurrency} callers): chain/bare per pair ${pairs.ratios.map((r) => r.toFixed(2)).join(', ')}; median ${median(pairs.ratios).toFixed(2)}x (goal >= 0.8x); server CPU us/call bare ${cpuB.toFixed(0)}, chain ${cpuC.toFixed(0)} (bare/chain ${(cpuB / cpuC).toFixed(2)}x)`);
}
console.log(String((await chainServer.info()).shortRun));
console.log(`  load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await Promise.all([bareServer.close(), chainServer.close()]);
