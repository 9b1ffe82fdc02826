// The builtin engine of `make bench-native`, driven like ref_server.py (one JSON per line on
// stdin/stdout) so every engine runs in its own process and reports its own RSS.
//   builtin_server.ts <model-dir> <threads>
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Predictor, type Tensor } from '../../native/lib/index.js';

const [modelDir = '', threadsArg = '1'] = process.argv.slice(2);
const threads = Number(threadsArg);
let predictor: Predictor | undefined;
const inputs = new Map<number, Record<string, Tensor>>();

function feeds(batch: number, seq: number): Record<string, Tensor> {
  const meta = JSON.parse(readFileSync(join(modelDir, 'meta.json'), 'utf8')) as { inputs: { name: string; dtype: string; shape: number[] }[] };
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const out: Record<string, Tensor> = {};
  for (const spec of meta.inputs) {
    const shape = spec.shape.map((d, i) => (i === 0 ? batch : d === -1 ? seq : d));
    const n = shape.reduce((a, b) => a * b, 1);
    out[spec.name] =
      spec.dtype === 'int64'
        ? { dtype: 'int64', shape, data: BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rnd() * 1000))) }
        : { dtype: 'float32', shape, data: Float32Array.from({ length: n }, () => rnd() * 2 - 1) };
  }
  return out;
}

async function handle(msg: { cmd: string; batch?: number; seq?: number; warmup?: number; iters?: number }): Promise<object> {
  if (msg.cmd === 'load') {
    const before = process.memoryUsage().rss;
    predictor = await Predictor.load({ modelDir, requireSignature: false, cpuThreads: threads });
    return {
      config: `builtin executor (oneDNN + OpenBLAS, graph passes), cpuThreads=${threads}; time = stats().lastRun.latencyMs (run() compute, no JS copies)`,
      rssBeforeLoad: before,
      rssAfterLoad: process.memoryUsage().rss,
    };
  }
  if (!predictor) throw new Error('not loaded');
  if (msg.cmd === 'prepare') {
    const batch = msg.batch ?? 1;
    inputs.set(batch, feeds(batch, msg.seq ?? 128));
    for (let i = 0; i < (msg.warmup ?? 3); i++) await predictor.run(inputs.get(batch)!);
    return { ok: true };
  }
  if (msg.cmd === 'time') {
    const times: number[] = [];
    const batchInputs = inputs.get(msg.batch ?? 1);
    if (!batchInputs) throw new Error(`batch ${msg.batch} was not prepared`);
    for (let i = 0; i < (msg.iters ?? 1); i++) {
      await predictor.run(batchInputs);
      times.push(predictor.stats().lastRun?.latencyMs ?? NaN);
    }
    return { times, rss: process.memoryUsage().rss, arenaBytes: predictor.stats().memory.arenaBytes };
  }
  if (msg.cmd === 'exit') process.exit(0);
  return { error: `unknown command ${msg.cmd}` };
}

for await (const line of createInterface({ input: process.stdin })) {
  const reply = await handle(JSON.parse(line) as { cmd: string });
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
