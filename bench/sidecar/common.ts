// What the sidecar benchmark scripts (bench.ts, profile.ts, ablation.ts, chain-cpu.ts,
// grpc-cpu.ts) share: the MLP predictor, the request body, the bare node:http reference
// handler, the HS256 secret with its token, the full-chain config, and the in-process CPU
// benches' chain over an instant predictor. One copy, so the scripts measure the same things.

import { type ChildProcessByStdio, execFile, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { Registry } from 'prom-client';
import { Predictor, unsentBytes } from '../../native/lib/index.js';
import { createApp, type SidecarApp } from '../../sidecar/src/app.js';
import { DEFAULT_POLICIES, parseSidecarConfig, type SidecarConfig } from '../../sidecar/src/config.js';
import { apiConnectionLimits, type ConnectionLimits } from '../../sidecar/src/connections.js';
import { createLoggers } from '../../sidecar/src/logging.js';
import { INLINE_RUN_US_DEFAULT, RunPlacement } from '../../sidecar/src/pipeline/inline-runs.js';
import type { PredictorLike, Tensor } from '../../sidecar/src/predictor.js';
import { ReloadableTracing } from '../../sidecar/src/tracing.js';
import { type RunQueue, SHORT_RUN_MS } from '../../sidecar/src/pipeline/queue.js';
import { shapeKey } from '../../sidecar/src/pipeline/service-times.js';

export const ROOT = new URL('../../', import.meta.url).pathname;

/** The signed MLP fixture (legacy format), verified, one CPU thread. */
export function loadMlpPredictor(): Promise<Predictor> {
  return Predictor.load({
    modelDir: join(ROOT, 'native/fixtures/models/mlp/legacy'),
    publicKeyPem: readFileSync(join(ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem'), 'utf8'),
    cpuThreads: 1,
  });
}

/** One batch-1 OIP v2 inference request for the MLP fixture. */
export const INFER_BODY = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, (_, i) => ((i % 13) - 6) / 10) }] });

/** The part of an OIP v2 request body the bare references read. */
export interface InferRequest {
  inputs: { name: string; shape: number[]; data: number[] }[];
}

/** Runs the first input of a parsed OIP v2 request and builds the OIP v2 response body. */
export async function inferOnce(run: BareRun, parsed: InferRequest): Promise<{ model_name: string; outputs: unknown[] }> {
  const inp = parsed.inputs[0];
  if (!inp) throw new Error('no input');
  const out = await run({ [inp.name]: { dtype: 'float32', shape: inp.shape, data: Float32Array.from(inp.data) } });
  return { model_name: 'mlp', outputs: Object.entries(out).map(([name, t]) => ({ name, shape: t.shape, datatype: 'FP32', data: Array.from(t.data as Float32Array) })) };
}

/** The bare reference: read the body, parse JSON, run, answer JSON (500 on any error). */
export function bareInferHandler(predictor: PredictorLike): (req: IncomingMessage, res: ServerResponse) => void {
  const run = bareRunner(predictor);
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        try {
          const body = await inferOnce(run, JSON.parse(Buffer.concat(chunks).toString('utf8')) as InferRequest);
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(body));
        } catch (err) {
          res.statusCode = 500;
          res.end(JSON.stringify({ error: String(err) }));
        }
      })();
    });
  };
}

/** How a bare reference runs the predictor. */
export type BareRun = (inputs: Record<string, Tensor>) => Promise<Record<string, Tensor>>;

/** The chain's and the bare references' `--inline-run-us` in the benches: BENCH_INLINE_RUN_US, else main.ts's default. */
export function benchInlineRunUs(): number {
  return Number(process.env.BENCH_INLINE_RUN_US ?? INLINE_RUN_US_DEFAULT);
}

/**
 * The bare references call the predictor where the chain would (pipeline/inline-runs.ts at the
 * benches' limit): on the main thread when the run is alone in a quiet turn of the event loop and
 * its shape is known to be short, else on the addon's pool. A reference that always hopped to the
 * pool would pay 100-300 us per lone request on a small VM that the chain does not. At 0 it is
 * `predictor.run` itself: no wrapper, shape key or counter on the reference's request path.
 */
export function bareRunner(predictor: PredictorLike): BareRun {
  const limit = benchInlineRunUs();
  if (limit <= 0) return (inputs) => predictor.run(inputs);
  const placement = new RunPlacement(limit);
  let active = 0;
  return async (inputs) => {
    active++;
    placement.arrive();
    try {
      return await placement.run(predictor, inputs, shapeKey(inputs), active === 1);
    } finally {
      active--;
    }
  };
}

/**
 * The API listeners' connection limits as main.ts sets them at its defaults (connections.ts
 * apiConnectionLimits: the cap, the idle sweep, the header deadline, the answer pace, with the
 * kernel's unsent bytes at keep-alive close): the chain's servers in the benches run with them,
 * as a pod does.
 */
export function mainLimits(): ConnectionLimits {
  return apiConnectionLimits({ unsentBytes });
}

export interface BenchAuth {
  /** Directory holding the secret file. */
  dir: string;
  hmacFile: string;
  secret: Buffer;
  /** A valid HS256 token for the config below (subject `bench`, scope model_inference). */
  token: string;
}

/** A fresh HS256 secret in a temp dir and a token signed with it. */
export async function benchAuth(prefix: string): Promise<BenchAuth> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Text, as a Secret holds it: raw random bytes ending in CR/LF would be trimmed below 32 bytes.
  const secret = Buffer.from(randomBytes(48).toString('base64url'));
  const hmacFile = join(dir, 'hmac.key');
  writeFileSync(hmacFile, secret);
  const token = await new SignJWT({ scope: 'model_inference' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setIssuer('bench').setAudience('bench').setExpirationTime('1h').sign(secret);
  return { dir, hmacFile, secret, token };
}

/** The full-chain config: auth (when on) with an effectively unlimited inference rate, and CORS. */
export function benchConfig(auth: BenchAuth, authEnabled = true): SidecarConfig {
  const c = parseSidecarConfig(
    JSON.stringify({
      version: 1,
      model: { name: 'mlp' },
      auth: {
        enabled: authEnabled,
        issuer: 'bench',
        audience: 'bench',
        ...(authEnabled ? { hmacSecretFile: auth.hmacFile } : {}),
        // Default-deny: every protected route has its policy; inference effectively unlimited.
        policies: DEFAULT_POLICIES.map((p) => (p.domain === 'model_inference' ? { ...p, callsPerMinute: 1000000 } : p)),
      },
      cors: { allowedOrigins: ['https://console.example.com'] },
    }),
  );
  if (!c.ok) throw new Error(c.error);
  return c.config;
}

/** What the chain's run queue made of the bench shape ([1, 64]): its fastest service time and whether its runs counted as short. */
export function shortRunLine(queue: RunQueue): string {
  const key = shapeKey({ x: { shape: [1, 64] } });
  const fastest = queue.serviceTimes.oneRun(key);
  return `chain's run queue on the bench shape: fastest service time ${fastest.toFixed(3)} ms, so its runs ${queue.serviceTimes.isShort(key, SHORT_RUN_MS) ? 'were short (the short-run slots applied)' : `were not short (>= ${SHORT_RUN_MS} ms: maxInFlight applied)`}`;
}

/** What the scripts read of autocannon's JSON result. */
export interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
}

const CANNON = join(ROOT, 'node_modules/autocannon/autocannon.js');

/**
 * autocannon in a child process (so the calling process's CPU time is its servers' alone):
 * POSTs `body` as JSON to `url` with `headers` over `connections` for `duration` seconds; with
 * `rate`, at that many requests per second in all (autocannon's -R) instead of as fast as it can.
 */
export async function cannon(url: string, o: { body: string; headers?: Record<string, string>; connections: number; duration: number; rate?: number }): Promise<CannonResult> {
  const args = ['-j', '-n', '-c', String(o.connections), '-d', String(o.duration), '-m', 'POST', '-b', o.body, '-H', 'content-type=application/json'];
  if (o.rate !== undefined) args.push('-R', String(o.rate));
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}=${v}`);
  args.push(url);
  const out = await new Promise<string>((resolve, reject) =>
    // NODE_TLS_REJECT_UNAUTHORIZED=0: bench.ts's HTTPS row uses a self-made test CA; autocannon only.
    execFile(process.execPath, [CANNON, ...args], { maxBuffer: 1 << 24, env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0' } }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  return JSON.parse(out) as CannonResult;
}

/** The middle value (the upper one of an even count; 0 for none). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** One measured window of one server: its mean rate, the requests it served, and the server
 * process's CPU over the window with the number of calls that CPU is divided by. */
export interface PairWindow {
  rate: number;
  requests: number;
  cpuUs: number;
  cpuCalls: number;
}

export interface PairedResult {
  /** chain/bare rate per pair, sorted. */
  ratios: number[];
  /** all chain requests over all bare requests. */
  total: number;
  cpuUsPerCall: { bare: number; chain: number };
}

/**
 * Back-to-back pairs of short windows, bare and chain, in ABBA order (bare first in even pairs,
 * chain first in odd ones): the machine's drift within a pair is seconds, and a linear drift
 * cancels over two pairs. Used by bench.ts (REST) and grpc.ts (gRPC) with their own load
 * generators behind `window`.
 */
export async function pairedWindows(pairs: number, window: (which: 'bare' | 'chain') => Promise<PairWindow>): Promise<PairedResult> {
  const ratios: number[] = [];
  const requests = { bare: 0, chain: 0 };
  const cpu = { bare: 0, chain: 0 };
  const calls = { bare: 0, chain: 0 };
  const one = async (which: 'bare' | 'chain'): Promise<number> => {
    const w = await window(which);
    requests[which] += w.requests;
    cpu[which] += w.cpuUs;
    calls[which] += w.cpuCalls;
    return w.rate;
  };
  for (let i = 0; i < pairs; i++) {
    const [first, second] = i % 2 === 0 ? (['bare', 'chain'] as const) : (['chain', 'bare'] as const);
    const a = await one(first);
    const b = await one(second);
    ratios.push(first === 'bare' ? b / a : a / b);
  }
  return {
    ratios: ratios.sort((x, y) => x - y),
    total: requests.chain / requests.bare,
    cpuUsPerCall: { bare: cpu.bare / calls.bare, chain: cpu.chain / calls.chain },
  };
}

/**
 * The in-process CPU benches' set-up (chain-cpu.ts, grpc-cpu.ts): the full chain as bench.ts
 * builds it (queue.maxInFlight 1, admission with the memory budget), over a predictor that
 * answers at once with the MLP's real output, log lines counted instead of written.
 */
export async function instantChain(o: { tmpPrefix: string; level: string; authEnabled: boolean }): Promise<{ sidecar: SidecarApp; predictor: PredictorLike; token: string; lines: () => number; close: () => Promise<void> }> {
  const real = await loadMlpPredictor();
  const once = await real.run({ x: { dtype: 'float32', shape: [1, 64], data: new Float32Array(64) } });
  const predictor: PredictorLike = { run: () => Promise.resolve({ ...once }), inputs: () => real.inputs(), outputs: () => real.outputs(), info: () => real.info(), stats: () => real.stats(), dispose: () => real.dispose() };
  const creds = await benchAuth(o.tmpPrefix);
  let lines = 0;
  const loggers = createLoggers({ service: 'paddle-sidecar', level: o.level, sinks: { out: { write: () => void lines++ }, deadLetter: { write: () => undefined } } });
  const tracing = new ReloadableTracing({ serviceName: 'bench' });
  const sidecar = await createApp({ config: benchConfig(creds, o.authEnabled), predictor, registry: new Registry(), loggers, tracer: tracing.tracer, device: 'cpu', defaultMaxInFlight: 1, memoryBudgetBytes: 2048 * 1024 * 1024 - process.memoryUsage().rss });
  sidecar.start();
  return {
    sidecar,
    predictor,
    token: creds.token,
    lines: () => lines,
    close: async () => {
      sidecar.close();
      await tracing.shutdown();
    },
  };
}

/** A benchmark server in its own process (serve-one.ts), driven over IPC. */
export interface ServerProcess {
  /** Where to send requests, and the headers to send (the chain's token and dyeing). */
  url: string;
  headers: Record<string, string>;
  /** The test CA of an HTTPS server (for clients that verify it). */
  caCert: string | undefined;
  /** The server process's CPU time so far (user + system, every thread), us. */
  cpuUs(): Promise<number>;
  /** The chain's figures (log lines validated, the run queue's short-run line, batching). */
  info(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Starts serve-one.ts `kind` in a child process and waits until it listens. */
export async function forkServer(kind: 'bare' | 'express' | 'chain' | 'chain-tls' | 'grpc-bare' | 'grpc-chain', maxInFlight = 1): Promise<ServerProcess> {
  const child = fork(join(ROOT, 'bench/sidecar/serve-one.ts'), [kind, String(maxInFlight)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<string, Array<(m: Record<string, unknown>) => void>>();
  const next = (type: string): Promise<Record<string, unknown>> => new Promise((resolve) => waiting.set(type, [...(waiting.get(type) ?? []), resolve]));
  child.on('message', (m: Record<string, unknown>) => {
    const q = waiting.get(String(m.type));
    q?.shift()?.(m);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await Promise.race([next('ready'), exited.then(() => undefined)]);
  if (!ready) throw new Error(`bench server ${kind} exited before it listened`);
  const ask = async (type: string): Promise<Record<string, unknown>> => {
    const answer = next(type);
    child.send({ type });
    return answer;
  };
  return {
    url: String(ready.url),
    headers: (ready.headers as Record<string, string> | undefined) ?? {},
    caCert: ready.caCert as string | undefined,
    cpuUs: async () => Number((await ask('cpu')).us),
    info: async () => ((await ask('info')).info as Record<string, unknown>) ?? {},
    close: async () => {
      child.send({ type: 'close' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** A loopback TCP port free at the moment of the call. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** The real sidecar process as a pod runs it (main.ts), started by sidecarProcess(). */
export interface SidecarProcess {
  child: ChildProcessByStdio<null, Readable, null>;
  /** The serving port and the health port, from its `serving` line. */
  port: number;
  healthPort: number;
  /** Its resident set (bytes, /proc). */
  rss(): number;
}

/**
 * Starts sidecar/src/main.ts with `args` (after `--import tsx`), outside any pod (no POD_NAME)
 * and with the allocator settings the image and the Deployment give it
 * (images/sidecar.Dockerfile), and waits for its `serving` line. `onStdout` sees every chunk of
 * its standard output (log lines).
 */
export async function sidecarProcess(args: string[], onStdout?: (text: string) => void): Promise<SidecarProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'sidecar/src/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, POD_NAME: '', POD_NAMESPACE: '', PADDLESERVICE_NAME: '', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_ARENA_MAX: '2' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    const text = d.toString();
    if (out.length < 200_000) out += text;
    onStdout?.(text);
  });
  const ports = await new Promise<{ port: number; healthPort: number }>((resolve, reject) => {
    const timer = setInterval(() => {
      const line = out.split('\n').find((l) => l.includes('"message":"serving"'));
      if (line) {
        clearInterval(timer);
        resolve(JSON.parse(line) as { port: number; healthPort: number });
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`sidecar exited: ${out}`));
      }
    }, 100);
  });
  return {
    child,
    port: ports.port,
    healthPort: ports.healthPort,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
  };
}
