// Malformed model files: typed errors naming the file and offset, never a crash, never a huge
// allocation from sizes the file declares.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  MemoryLimitError,
  ModelFormatError,
  PaddleError,
  Predictor,
  UnsupportedOpError,
} from '../lib/index.js';
import { copyModel, modelDir } from './fixtures.js';

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}
function varint(v: bigint): Buffer {
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

/** One LoDTensor record header with the given TensorDesc dims and no data. */
function recordHeader(dims: bigint[]): Buffer {
  const desc = Buffer.concat([Buffer.from([0x08]), varint(5n), ...dims.flatMap((d) => [Buffer.from([0x10]), varint(d)])]);
  const size = Buffer.alloc(4);
  size.writeInt32LE(desc.length);
  return Buffer.concat([u32(0), u64(0n), u32(0), size, desc]);
}

async function rejectsWith<T extends PaddleError>(
  promise: Promise<unknown>,
  cls: new (...args: never[]) => T,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    assert.match((err as Error).message, pattern);
    return true;
  });
}

describe('malformed model input', function () {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));
  function scratch(model: 'mlp' | 'cnn' | 'transformer', format: 'legacy' | 'pir'): string {
    const s = copyModel(model, format);
    cleanups.push(s.cleanup);
    return s.dir;
  }
  const load = (dir: string, extra: object = {}) => Predictor.load({ modelDir: dir, requireSignature: false, ...extra });

  it('truncated model.pdmodel -> ModelFormatError with the file and offset', async () => {
    for (const frac of [0.01, 0.5, 0.99]) {
      const dir = scratch('mlp', 'legacy');
      const path = join(dir, 'model.pdmodel');
      const bytes = readFileSync(path);
      writeFileSync(path, bytes.subarray(0, Math.max(1, Math.floor(bytes.length * frac))));
      await rejectsWith(load(dir), ModelFormatError, /model\.pdmodel at offset \d+: /);
    }
  });

  it('truncated model.pdiparams -> ModelFormatError naming the parameter', async () => {
    for (const cut of [3, 30, 5000]) {
      const dir = scratch('mlp', 'legacy');
      const path = join(dir, 'model.pdiparams');
      writeFileSync(path, readFileSync(path).subarray(0, cut));
      await rejectsWith(load(dir), ModelFormatError, /model\.pdiparams at offset \d+: .*(truncated|overruns).*parameter "linear_0\.[bw]_0"/);
    }
  });

  it('trailing bytes after the last parameter are refused', async () => {
    const dir = scratch('mlp', 'legacy');
    const path = join(dir, 'model.pdiparams');
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from([1, 2, 3])]));
    await rejectsWith(load(dir), ModelFormatError, /3 unexpected bytes after the last of 6 parameters/);
  });

  it('wrong magic: a non-protobuf model.pdmodel, a non-PIR model.json, a bad record version', async () => {
    let dir = scratch('mlp', 'legacy');
    writeFileSync(join(dir, 'model.pdmodel'), Buffer.from('GIF89a this is not a program \x00\xff\xff\xff'));
    await rejectsWith(load(dir), ModelFormatError, /model\.pdmodel at offset \d+/);
    dir = scratch('mlp', 'pir');
    const doc = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    doc.base_code.magic = 'onnx';
    writeFileSync(join(dir, 'model.json'), JSON.stringify(doc));
    await rejectsWith(load(dir), ModelFormatError, /not a PIR program/);
    dir = scratch('mlp', 'legacy');
    const params = readFileSync(join(dir, 'model.pdiparams'));
    params.writeUInt32LE(7, 0);
    writeFileSync(join(dir, 'model.pdiparams'), params);
    await rejectsWith(load(dir), ModelFormatError, /offset 0: unsupported LoDTensor version 7/);
  });

  it('absurd dims in a parameter record -> ModelFormatError before any allocation', async () => {
    for (const dims of [[1n << 40n], [1n << 20n, 1n << 20n], [(1n << 64n) - 1n]]) {
      const dir = scratch('mlp', 'legacy');
      writeFileSync(join(dir, 'model.pdiparams'), recordHeader(dims));
      await rejectsWith(load(dir), ModelFormatError, /absurd dims|overruns/);
    }
    // plausible dims but no data behind them
    const dir = scratch('mlp', 'legacy');
    writeFileSync(join(dir, 'model.pdiparams'), recordHeader([256n]));
    await rejectsWith(load(dir), ModelFormatError, /tensor data of 1024 bytes .* overruns the file/);
  });

  it('absurd dims in PIR value types -> ModelFormatError', async () => {
    const dir = scratch('mlp', 'pir');
    const text = readFileSync(join(dir, 'model.json'), 'utf8').replace(/\[-1, ?64\]/g, '[-1,99999999999999]');
    writeFileSync(join(dir, 'model.json'), text);
    await rejectsWith(load(dir), ModelFormatError, /absurd dim/);
  });

  it('truncated or invalid model.json -> ModelFormatError with the offset', async () => {
    const dir = scratch('mlp', 'pir');
    const path = join(dir, 'model.json');
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.slice(0, 1000));
    await rejectsWith(load(dir), ModelFormatError, /model\.json at offset \d+: invalid JSON/);
    writeFileSync(path, '['.repeat(100000));
    await rejectsWith(load(dir), ModelFormatError, /nesting deeper than 256/);
  });

  it('unknown op (legacy) -> UnsupportedOpError naming it and listing supported ops', async () => {
    const dir = scratch('mlp', 'legacy');
    const path = join(dir, 'model.pdmodel');
    const bytes = readFileSync(path);
    const needle = Buffer.from([0x1a, 0x04, ...Buffer.from('relu')]);
    const at = bytes.indexOf(needle);
    assert.ok(at >= 0, 'relu op type not found in the fixture');
    bytes.write('relq', at + 2, 'latin1');
    writeFileSync(path, bytes);
    await rejectsWith(load(dir), UnsupportedOpError, /1 unsupported op type in model\.pdmodel: relq \(builtin backend supports: feed, fetch, .*matmul_v2/);
  });

  it('unknown op (PIR) -> UnsupportedOpError', async () => {
    const dir = scratch('mlp', 'pir');
    const path = join(dir, 'model.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"1.relu"', '"1.frobnicate"'));
    await rejectsWith(load(dir), UnsupportedOpError, /1 unsupported op type in model\.json: pd_op\.frobnicate \(builtin backend supports: feed, fetch, .*matmul_v2/);
  });

  it('dangling references -> ModelFormatError (PIR operand before definition, legacy op reading nothing)', async () => {
    let dir = scratch('mlp', 'pir');
    const path = join(dir, 'model.json');
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    const ops = doc.program.regions[0].blocks[0].ops as { '#': string; I?: { '%': number }[] }[];
    const relu = ops.find((o) => o['#'] === '1.relu')!;
    relu.I = [{ '%': 999999 }];
    writeFileSync(path, JSON.stringify(doc));
    await rejectsWith(load(dir), ModelFormatError, /operand %999999 is used before it is defined/);
    dir = scratch('mlp', 'legacy');
    const pdmodel = join(dir, 'model.pdmodel');
    const bytes = readFileSync(pdmodel);
    const at = bytes.lastIndexOf(Buffer.from('relu_0.tmp_0'));
    assert.ok(at >= 0);
    bytes.write('relu_9', at, 'latin1'); // the last mention: the op that reads relu's output
    writeFileSync(pdmodel, bytes);
    await rejectsWith(load(dir), ModelFormatError, /op matmul_v2 reads "relu_9\.tmp_0" which is neither a parameter, an input nor produced by an earlier op/);
  });

  it('maxMemoryMB below the parameters -> MemoryLimitError before loading', async () => {
    await rejectsWith(
      Predictor.load({ modelDir: modelDir('transformer', 'legacy'), requireSignature: false, maxMemoryMB: 1 }),
      MemoryLimitError,
      /above maxMemoryMB \(1 MiB\)/,
    );
  });

  it('a missing directory or model file -> ModelFormatError', async () => {
    await rejectsWith(load('/nonexistent/model'), ModelFormatError, /does not exist/);
    const dir = scratch('mlp', 'legacy');
    await rejectsWith(load(dir, { format: 'pir' }), ModelFormatError, /no model program found \(format pir; looked for model\.json, inference\.json\)/);
  });
});
