// Native predictor benchmarks (prints figures; never pass/fail):
//  1. per fixture model, median latency at batch 1 and 8, 1 thread: builtin backend vs
//     paddle.inference (native/fixtures/paddle_bench.py, same model, same threads), as a ratio;
//  2. load + verify of a signed model with a 200 MB parameters file vs `sha256sum` on that file.
// Env: PADDLE_PYTHON = a python with paddlepaddle (make bench-native passes the fixtures venv).
import { spawnSync } from 'node:child_process';
import { createPrivateKey, randomFillSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Predictor, type Tensor } from '../../native/lib/index.js';
import { buildParams, buildProgram, writeModel } from '../../native/test/program-builder.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = join(ROOT, 'native/fixtures');
const RSA_PUB = readFileSync(join(FIXTURES, 'keys/test-only-rsa2048.pub.pem'), 'utf8');
const RSA_KEY = readFileSync(join(FIXTURES, 'keys/test-only-rsa2048.key.pem'), 'utf8');
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const ITERS = Number(process.env.BENCH_ITERS ?? 200);
const SEQ = 16;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function randomInputs(p: Predictor, batch: number): Record<string, Tensor> {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const out: Record<string, Tensor> = {};
  for (const info of p.inputs()) {
    const shape = info.shape.map((d, i) => (i === 0 ? batch : d === -1 ? SEQ : d));
    const n = shape.reduce((a, b) => a * b, 1);
    if (info.dtype === 'int64') out[info.name] = { dtype: 'int64', shape, data: BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rnd() * 1000))) };
    else if (info.dtype === 'int32') out[info.name] = { dtype: 'int32', shape, data: Int32Array.from({ length: n }, () => Math.floor(rnd() * 1000)) };
    else out[info.name] = { dtype: 'float32', shape, data: Float32Array.from({ length: n }, () => rnd() * 2 - 1) };
  }
  return out;
}

interface PaddleTimes { runMs: number; e2eMs: number }
interface Row { model: string; batch: number; computeMs: number; e2eMs: number; paddle: PaddleTimes | null }

async function benchBuiltin(model: string, batch: number): Promise<{ computeMs: number; e2eMs: number }> {
  const p = await Predictor.load({ modelDir: join(FIXTURES, 'models', model, 'legacy'), publicKeyPem: RSA_PUB, cpuThreads: 1 });
  const inputs = randomInputs(p, batch);
  for (let i = 0; i < WARMUP; i++) await p.run(inputs);
  const compute: number[] = [];
  const e2e: number[] = [];
  for (let i = 0; i < ITERS; i++) {
    const t0 = process.hrtime.bigint();
    await p.run(inputs);
    e2e.push(Number(process.hrtime.bigint() - t0) / 1e6);
    compute.push(p.stats().lastRun?.latencyMs ?? NaN);
  }
  p.dispose();
  return { computeMs: median(compute), e2eMs: median(e2e) };
}

function benchPaddle(model: string, batch: number): PaddleTimes | null {
  const python = process.env.PADDLE_PYTHON;
  if (!python) return null;
  const r = spawnSync(
    python,
    [join(FIXTURES, 'paddle_bench.py'), '--model-dir', join(FIXTURES, 'models', model, 'legacy'), '--batch', String(batch),
      '--seq', String(SEQ), '--threads', '1', '--warmup', String(WARMUP), '--iters', String(ITERS), '--json'],
    { encoding: 'utf8', env: { ...process.env, FLAGS_enable_pir_api: '0', GLOG_minloglevel: '2' } },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) {
    console.error(`paddle_bench failed for ${model} b${batch}: ${r.stderr.slice(-500)}`);
    return null;
  }
  const parsed = JSON.parse(line) as { medianMs: number; endToEndMedianMs: number };
  return { runMs: parsed.medianMs, e2eMs: parsed.endToEndMedianMs };
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
  const rows: Row[] = [];
  for (const model of ['mlp', 'cnn', 'transformer']) {
    for (const batch of [1, 8]) {
      const b = await benchBuiltin(model, batch);
      rows.push({ model, batch, ...b, paddle: benchPaddle(model, batch) });
    }
  }
  console.log(`\nmedian latency, 1 thread, ${ITERS} runs after ${WARMUP} warm-up (transformer seq ${SEQ}); legacy format`);
  console.log('compute: builtin C++ executor time (stats.lastRun) vs paddle.inference run() alone');
  console.log('end-to-end: await run() from JS (copies + worker hop) vs copy_from_cpu + run + copy_to_cpu from Python');
  console.log('| model | batch | builtin compute ms | paddle run() ms | compute ratio | builtin e2e ms | paddle e2e ms | e2e ratio |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const ms = (x: number | undefined): string => (x === undefined ? 'n/a (no PADDLE_PYTHON)' : x.toFixed(3));
  const ratio = (x: number, ref: number | undefined): string => (ref ? `${(x / ref).toFixed(2)}x` : 'n/a');
  for (const r of rows) {
    console.log(
      `| ${r.model} | ${r.batch} | ${r.computeMs.toFixed(3)} | ${ms(r.paddle?.runMs)} | ${ratio(r.computeMs, r.paddle?.runMs)} ` +
        `| ${r.e2eMs.toFixed(3)} | ${ms(r.paddle?.e2eMs)} | ${ratio(r.e2eMs, r.paddle?.e2eMs)} |`,
    );
  }
  await benchLoad();
}

await main();
