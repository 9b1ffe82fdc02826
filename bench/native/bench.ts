// Native predictor benchmarks (prints figures; never pass/fail):
//  1. builtin vs the strongest references, interleaved in one run: for resnet50, mobilenet_v2,
//     a BERT-style encoder (seq 128) and densenet121 at batch 1 and 4 with 1 math thread (and
//     resnet50 with 2), each engine in its own process (builtin_server.ts, ref_server.py):
//     Paddle Inference production config (IR optim + oneDNN), ONNX Runtime (paddle2onnx model,
//     ORT_ENABLE_ALL), Paddle Inference IR off + MKLDNN off; each round runs every engine (order
//     rotated) BENCH_ITERS times at batch 1 and at batch 4; medians over all rounds; RSS after load.
//     Models come from make_models.py (the pinned paddle), cached by the make target.
//  2. load + verify of a signed model with a 200 MB parameters file vs `sha256sum` on that file.
// Env: BENCH_PYTHON (the bench venv), BENCH_MODELS (the exported models), BENCH_ROUNDS (7),
// BENCH_ITERS (3), BENCH_ONLY (comma-separated model names), BENCH_TURN_PAUSE_MS (300).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createPrivateKey, randomFillSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Predictor } from '../../native/lib/index.js';
import { buildParams, buildProgram, writeModel } from '../../native/test/program-builder.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const FIXTURES = join(ROOT, 'native/fixtures');
const RSA_PUB = readFileSync(join(FIXTURES, 'keys/test-only-rsa2048.pub.pem'), 'utf8');
const RSA_KEY = readFileSync(join(FIXTURES, 'keys/test-only-rsa2048.key.pem'), 'utf8');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ITERS = Number(process.env.BENCH_ITERS ?? 3);
/** The pause before each engine's turn (ms): longer than any math pool's spin-wait after a run. */
const TURN_PAUSE_MS = Number(process.env.BENCH_TURN_PAUSE_MS ?? 300);
const SEQ = 128;
const BATCHES = [1, 4];
const ENGINES = ['builtin', 'paddle-prod', 'ort', 'paddle-iroff'] as const;
type Engine = (typeof ENGINES)[number];
const LABEL: Record<Engine, string> = { builtin: 'builtin', 'paddle-prod': 'Paddle prod', ort: 'ORT', 'paddle-iroff': 'Paddle IR-off' };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

// One engine process, spoken to one JSON line at a time.
class Server {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  readonly #rl: Interface;
  constructor(command: string, args: string[]) {
    this.#child = spawn(command, args, { env: { ...process.env, FLAGS_enable_pir_api: '0', GLOG_minloglevel: '3' } });
    this.#child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      if (/error|Traceback/i.test(text)) process.stderr.write(text);
    });
    this.#rl = createInterface({ input: this.#child.stdout });
    this.#lines = this.#rl[Symbol.asyncIterator]();
  }
  async ask<T>(msg: object): Promise<T> {
    this.#child.stdin.write(`${JSON.stringify(msg)}\n`);
    const next = await this.#lines.next();
    if (next.done) throw new Error(`engine process exited (${JSON.stringify(msg)})`);
    const reply = JSON.parse(next.value) as T & { error?: string };
    if (reply.error) throw new Error(reply.error);
    return reply;
  }
  close(): void {
    this.#child.stdin.end(`${JSON.stringify({ cmd: 'exit' })}\n`);
    this.#rl.close();
  }
}

function startEngine(engine: Engine, modelDir: string, threads: number): Server {
  if (engine === 'builtin') return new Server(process.execPath, ['--import', 'tsx', join(HERE, 'builtin_server.ts'), modelDir, String(threads)]);
  const python = process.env.BENCH_PYTHON;
  if (!python) throw new Error('BENCH_PYTHON is not set (make bench-native sets it)');
  return new Server(python, [join(HERE, 'ref_server.py'), '--engine', engine, '--model-dir', modelDir, '--threads', String(threads)]);
}

interface Result {
  engine: Engine;
  times: number[];
  rssAfterLoad: number;
  loadGrowth: number;
  config: string;
}
interface Row {
  model: string;
  batch: number;
  threads: number;
  results: Result[];
}

// One model at one thread count: every engine loaded once with batch 1 and 4 prepared; each
// round times every engine at both batches (engine order rotated), so all the figures of a
// model, and each engine's batch 1 against its batch 4, come from the same stretch of time.
async function benchModel(model: string, threads: number): Promise<Row[]> {
  const dir = join(process.env.BENCH_MODELS ?? '', model);
  const servers = new Map<Engine, Server>();
  const results = new Map<string, Result>();
  const at = (e: Engine, b: number): Result => results.get(`${e}/${b}`)!;
  try {
    for (const engine of ENGINES) {
      const server = startEngine(engine, dir, threads);
      servers.set(engine, server);
      const load = await server.ask<{ config: string; rssBeforeLoad: number; rssAfterLoad: number }>({ cmd: 'load' });
      for (const batch of BATCHES) {
        results.set(`${engine}/${batch}`, { engine, times: [], rssAfterLoad: load.rssAfterLoad, loadGrowth: load.rssAfterLoad - load.rssBeforeLoad, config: load.config });
        await server.ask({ cmd: 'prepare', batch, seq: SEQ, warmup: 3 });
      }
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < ENGINES.length; k++) {
        const engine = ENGINES[(round + k) % ENGINES.length]!;
        for (const batch of round % 2 ? [...BATCHES].reverse() : BATCHES) {
          // Each engine's turn starts the same way: a pause, so the previous engine's math threads
          // have stopped spinning (OpenMP and ORT's pool spin for a while after a parallel run and
          // would take a core from whoever runs next), then one untimed run to bring its weights
          // and plans back into the caches the previous engine evicted.
          await new Promise((r) => setTimeout(r, TURN_PAUSE_MS));
          await servers.get(engine)!.ask({ cmd: 'time', batch, iters: 1 });
          const { times } = await servers.get(engine)!.ask<{ times: number[] }>({ cmd: 'time', batch, iters: ITERS });
          at(engine, batch).times.push(...times);
        }
      }
    }
  } finally {
    for (const s of servers.values()) s.close();
  }
  return BATCHES.map((batch) => ({ model, batch, threads, results: ENGINES.map((e) => at(e, batch)) }));
}

function report(rows: Row[]): void {
  const mb = (b: number): string => (b / 1048576).toFixed(0);
  console.log(`\nmedian ms per run over ${ROUNDS} rounds x ${ITERS} runs per batch, engine order rotated each round, all engines of a model loaded side by side; each turn: a ${TURN_PAUSE_MS} ms pause, one untimed run, then the timed runs`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('| model | batch | threads | builtin | Paddle prod | ORT | Paddle IR-off | builtin / strongest | builtin ms per sample |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const med = Object.fromEntries(r.results.map((x) => [x.engine, median(x.times)])) as Record<Engine, number>;
    const strongest = Math.min(med['paddle-prod'], med.ort);
    const who = med['paddle-prod'] <= med.ort ? 'Paddle prod' : 'ORT';
    const b1 = rows.find((x) => x.model === r.model && x.threads === r.threads && x.batch === 1);
    const b1Builtin = b1 ? median(b1.results[0]!.times) : NaN;
    console.log(
      `| ${r.model} | ${r.batch} | ${r.threads} | ${med.builtin.toFixed(2)} | ${med['paddle-prod'].toFixed(2)} | ${med.ort.toFixed(2)} | ` +
        `${med['paddle-iroff'].toFixed(2)} | ${(med.builtin / strongest).toFixed(2)}x (${who}) | ${(med.builtin / r.batch).toFixed(2)}` +
        `${r.batch > 1 ? ` (${((med.builtin / r.batch / b1Builtin) * 100).toFixed(0)}% of b1)` : ''} |`,
    );
  }
  console.log('\nRSS after load, MB (process total; in parentheses what the load added)');
  console.log('| model | threads | builtin | Paddle prod | ORT | Paddle IR-off |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows.filter((x) => x.batch === 1)) {
    console.log(`| ${r.model} | ${r.threads} | ${r.results.map((x) => `${mb(x.rssAfterLoad)} (+${mb(x.loadGrowth)})`).join(' | ')} |`);
  }
  console.log('\nconfigurations (of the first row; the other rows differ only in the threads column):');
  for (const x of rows[0]?.results ?? []) console.log(`  ${LABEL[x.engine]}: ${x.config}`);
  summarize(rows);
}

// The issue's acceptance, read off the table above: builtin <= 1.0x of Paddle prod and of ORT
// in every cell, and on the CNNs less time per sample at batch 4 than at batch 1.
function summarize(rows: Row[]): void {
  const med = (r: Row, e: Engine): number => median(r.results.find((x) => x.engine === e)!.times);
  const cell = (r: Row): string => `${r.model} b${r.batch} t${r.threads}`;
  const over = rows.filter((r) => med(r, 'builtin') > Math.min(med(r, 'paddle-prod'), med(r, 'ort')));
  console.log(`\nbuiltin <= 1.0x of Paddle prod and of ORT: ${rows.length - over.length} of ${rows.length} cells` +
    (over.length ? `; over: ${over.map((r) => `${cell(r)} ${(med(r, 'builtin') / Math.min(med(r, 'paddle-prod'), med(r, 'ort'))).toFixed(2)}x`).join(', ')}` : ''));
  const perSample = rows
    .filter((r) => r.batch > 1 && r.model !== 'bert_encoder')
    .map((r) => {
      const b1 = rows.find((x) => x.model === r.model && x.threads === r.threads && x.batch === 1);
      return { r, pct: b1 ? (med(r, 'builtin') / r.batch / med(b1, 'builtin')) * 100 : NaN };
    });
  console.log(`CNNs, builtin ms per sample at b4 below b1: ${perSample.map(({ r, pct }) => `${r.model} t${r.threads} ${pct.toFixed(0)}%${pct < 100 ? '' : ' (NOT below)'}`).join(', ')}`);
}

// ---- synthetic 200 MB model for load + verify ---------------------------------------------
function writeBigModel(dir: string, paramBytes: number): string {
  const n = Math.floor(paramBytes / 4);
  const program = buildProgram(
    [{ name: 'x', dims: [-1, 4] }, { name: 'w', dims: [n], persistable: true }, { name: 'y', dims: [-1, 4] }],
    [{ type: 'scale', inputs: { X: ['x'] }, outputs: { Out: ['y'] }, attrs: { scale: { float: 2 } } }],
    ['x'],
    ['y'],
  );
  const data = Buffer.allocUnsafe(n * 4);
  randomFillSync(data);
  writeModel(dir, program, buildParams([{ dtype: 'float32', dims: [n], data }]));
  const files: Record<string, string> = {};
  for (const name of ['model.pdiparams', 'model.pdmodel']) {
    const r = spawnSync('sha256sum', [join(dir, name)], { encoding: 'utf8' });
    files[name] = r.stdout.split(' ')[0] ?? '';
  }
  const manifest = Object.keys(files).sort().map((k) => `${files[k]}  ${k}\n`).join('');
  const signature = sign('sha256', Buffer.from(manifest), createPrivateKey(RSA_KEY)).toString('base64');
  writeFileSync(join(dir, 'signature.json'), JSON.stringify({ version: 1, algorithm: 'RSA-PKCS1v15-SHA256', keyId: 'bench', files, signature }));
  return join(dir, 'model.pdiparams');
}

async function benchLoad(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'paddle-native-bench-'));
  try {
    const params = writeBigModel(root, 200 * 1024 * 1024);
    const sha: number[] = [];
    const load: number[] = [];
    for (let i = 0; i < 3; i++) {
      let t0 = process.hrtime.bigint();
      spawnSync('sha256sum', [params]);
      sha.push(Number(process.hrtime.bigint() - t0) / 1e6);
      t0 = process.hrtime.bigint();
      const p = await Predictor.load({ modelDir: root, publicKeyPem: RSA_PUB });
      load.push(Number(process.hrtime.bigint() - t0) / 1e6);
      p.dispose();
    }
    const mb = 200 * 1.048576;
    const shaMs = Math.min(...sha);
    const loadMs = Math.min(...load);
    console.log('\nload + verify, 200 MiB model.pdiparams (best of 3, warm page cache):');
    console.log(`  sha256sum:                ${shaMs.toFixed(1)} ms  (${(mb / shaMs * 1000).toFixed(0)} MB/s)`);
    console.log(`  Predictor.load (verified): ${loadMs.toFixed(1)} ms  (${(mb / loadMs * 1000).toFixed(0)} MB/s)`);
    console.log(`  throughput ratio load/sha256sum: ${(shaMs / loadMs).toFixed(2)}x (target >= 0.8x)`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',');
  const configs: [string, number][] = [];
  for (const model of ['resnet50', 'mobilenet_v2', 'bert_encoder', 'densenet121']) {
    if (!only || only.includes(model)) configs.push([model, 1]);
  }
  if (!only || only.includes('resnet50')) configs.push(['resnet50', 2]);
  const rows: Row[] = [];
  console.log(`load average at the start ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const [model, threads] of configs) {
    rows.push(...(await benchModel(model, threads)));
    console.error(`done: ${model} t${threads}`);
  }
  report(rows);
  if (!only) await benchLoad();
}

await main();
