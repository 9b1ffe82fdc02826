// paddle-model CLI: sign with each key type, verify, inspect, run; refusal exit codes.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../lib/cli.js';
import { FIXTURES, copyModel, loadCases, maxAbsDiff } from './fixtures.js';

const keyPath = (name: string, kind: 'pub' | 'key') => join(FIXTURES, 'keys', `test-only-${name}.${kind}.pem`);

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('paddle-model CLI', function () {
  let scratch: { dir: string; cleanup: () => void };
  beforeEach(() => {
    scratch = copyModel('mlp', 'legacy');
  });
  afterEach(() => scratch.cleanup());

  for (const [name, algorithm] of [
    ['rsa2048', 'RSA-PKCS1v15-SHA256'],
    ['ecdsa-p256', 'ECDSA-P256-SHA256'],
    ['ed25519', 'Ed25519'],
  ] as const) {
    it(`signs with ${algorithm} and verifies with the public key`, async () => {
      const signed = await cli(['sign', '--key', keyPath(name, 'key'), scratch.dir]);
      assert.equal(signed.code, 0, signed.err);
      const doc = JSON.parse(readFileSync(join(scratch.dir, 'signature.json'), 'utf8'));
      assert.equal(doc.algorithm, algorithm);
      assert.deepEqual(Object.keys(doc.files).sort(), ['model.pdiparams', 'model.pdmodel']);
      const verified = await cli(['verify', '--key', keyPath(name, 'pub'), scratch.dir]);
      assert.equal(verified.code, 0, verified.err);
      assert.match(verified.out, new RegExp(`verified .*: ${algorithm}`));
    });
  }

  it('verify refuses a tampered model with exit code 1 and the reason', async () => {
    const path = join(scratch.dir, 'model.pdiparams');
    const bytes = readFileSync(path);
    bytes.writeUInt8(bytes.readUInt8(100) ^ 1, 100);
    writeFileSync(path, bytes);
    const r = await cli(['verify', '--key', keyPath('rsa2048', 'pub'), scratch.dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /ModelVerificationError \[ERR_MODEL_VERIFICATION\]: digest mismatch for model\.pdiparams/);
  });

  it('inspect lists inputs, outputs, op counts and parameter bytes', async () => {
    const r = await cli(['inspect', '--key', keyPath('rsa2048', 'pub'), scratch.dir]);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    assert.deepEqual(doc.inputs, [{ name: 'x', dtype: 'float32', shape: [-1, 64] }]);
    assert.equal(doc.ops.matmul_v2, 3);
    assert.equal(doc.ops.elementwise_add, 3);
    assert.equal(doc.parameterBytes, 340008);
    assert.equal(doc.verified, true);
  });

  it('inspect names PIR ops as PIR does', async () => {
    const r = await cli(['inspect', '--key', keyPath('rsa2048', 'pub'), join(FIXTURES, 'models', 'mlp', 'pir')]);
    assert.equal(r.code, 0, r.err);
    const ops = JSON.parse(r.out).ops as Record<string, number>;
    assert.deepEqual(ops, { 'pd_op.add': 3, 'pd_op.data': 1, 'pd_op.fetch': 1, 'pd_op.gelu': 1, 'pd_op.matmul': 3, 'pd_op.relu': 1, 'pd_op.softmax': 1 });
  });

  it('run prints outputs that match Paddle', async () => {
    const { cases } = loadCases('mlp');
    const c = cases[0]!;
    const x = c.inputs.x!;
    const inputsPath = join(scratch.dir, 'inputs.json');
    writeFileSync(inputsPath, JSON.stringify({ x: { dtype: 'float32', shape: x.shape, data: Array.from(x.data as Float32Array) } }));
    const r = await cli(['run', '--key', keyPath('rsa2048', 'pub'), '--inputs', inputsPath, scratch.dir]);
    assert.equal(r.code, 0, r.err);
    const out = JSON.parse(r.out)['softmax_0.tmp_0'];
    assert.ok(maxAbsDiff(Float32Array.from(out.data), c.outputs.legacy[0]!.data) <= 1e-4);
  });

  it('usage errors exit 2', async () => {
    assert.equal((await cli([])).code, 2);
    assert.equal((await cli(['frobnicate', scratch.dir])).code, 2);
    assert.equal((await cli(['inspect', scratch.dir])).code, 2);
    assert.equal((await cli(['verify', scratch.dir])).code, 2);
    assert.equal((await cli(['sign', '--key', keyPath('ed25519', 'key'), '--algorithm', 'Ed25519'])).code, 2);
  });
});
