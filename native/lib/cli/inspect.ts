// inspect and run: what a model takes and gives, through the native loader.
//   inspect (--key PUB.pem | --unsigned) DIR          inputs, outputs, op counts, coverage
//   run (--key PUB.pem | --unsigned) --inputs F DIR   one inference, outputs as JSON

import { readFileSync } from 'node:fs';
import { UnsupportedOpError, inspectModel as coverageOf, type DType, type Predictor, type Tensor } from '../index.js';
import { UsageError, oneDir, required, type Args, type CliIo } from './args.js';
import { loadFor } from './signing.js';

export async function inspectModel(args: Args, io: CliIo): Promise<number> {
  let p: Predictor;
  try {
    p = await loadFor(args);
  } catch (err) {
    // Verified, but the builtin backend lacks ops: report the whole coverage (every op type
    // it lacks, from the program alone), not only the load error.
    if (!(err instanceof UnsupportedOpError)) throw err;
    const c = coverageOf(oneDir(args));
    io.out(
      JSON.stringify(
        {
          format: c.format,
          programFile: c.programFile,
          inputs: c.inputs,
          outputs: c.outputs,
          ops: c.opCounts,
          coverage: { backend: 'builtin', unsupportedOps: c.unsupported, supportedOps: c.supportedOps, totalOps: c.totalOps },
        },
        null,
        2,
      ),
    );
    io.err(`${oneDir(args)}: the builtin backend cannot run ${c.unsupported.join(', ')}`);
    return 1;
  }
  try {
    const info = p.info();
    io.out(
      JSON.stringify(
        {
          format: info.format,
          backend: `${info.backend} ${info.backendVersion}`,
          verified: info.verified,
          algorithm: info.algorithm,
          keyId: info.keyId,
          digest: info.digest,
          parameterBytes: info.parameterBytes,
          inputs: p.inputs(),
          outputs: p.outputs(),
          ops: p.opCounts(),
          // The builtin backend loaded the program, so it runs every op in it (the load
          // shape-probes each one); an op it lacks is refused above with UnsupportedOpError.
          coverage: { backend: info.backend, unsupportedOps: [] as string[] },
        },
        null,
        2,
      ),
    );
  } finally {
    p.dispose();
  }
  return 0;
}

function toTensor(name: string, raw: unknown): Tensor {
  const t = raw as { dtype?: unknown; shape?: unknown; data?: unknown };
  const dtype = t.dtype as DType;
  if (!['float32', 'int64', 'int32'].includes(dtype)) throw new UsageError(`input ${name}: dtype must be float32, int64 or int32`);
  if (!Array.isArray(t.shape) || !Array.isArray(t.data)) throw new UsageError(`input ${name}: needs shape and data arrays`);
  const data = t.data as (number | string)[];
  const typed =
    dtype === 'int64'
      ? BigInt64Array.from(data, (v) => BigInt(v))
      : dtype === 'int32'
        ? Int32Array.from(data, Number)
        : Float32Array.from(data, Number);
  return { dtype, shape: t.shape as number[], data: typed };
}

export async function runModel(args: Args, io: CliIo): Promise<number> {
  const inputsPath = required(args, 'inputs', 'FILE.json');
  const doc = JSON.parse(readFileSync(inputsPath, 'utf8')) as Record<string, unknown>;
  const inputs = Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, toTensor(k, v)]));
  const p = await loadFor(args);
  try {
    const out = await p.run(inputs);
    const printable = Object.fromEntries(
      Object.entries(out).map(([k, t]) => [
        k,
        { dtype: t.dtype, shape: t.shape, data: Array.from(t.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v.toString() : v)) },
      ]),
    );
    io.out(JSON.stringify(printable));
  } finally {
    p.dispose();
  }
  return 0;
}
