// A model the builtin backend cannot run fails once, naming every missing op type; inspectModel
// reports a directory's coverage without loading it; PaddleX / PaddleOCR export names
// (inference.pdmodel / inference.json + inference.pdiparams) load like model.*.
import assert from 'node:assert/strict';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelFormatError, ModelVerificationError, Predictor, UnsupportedOpError, formatCoverage, inspectModel } from '../lib/index.js';
import { runCli } from '../lib/cli.js';
import { FIXTURES, copyModel, digestsOf, key, loadCases, maxAbsDiff, writeSignature, type FormatName } from './fixtures.js';

function renameOp(bytes: Buffer, from: string, to: string): void {
  assert.equal(from.length, to.length);
  const needle = Buffer.from([0x1a, from.length, ...Buffer.from(from)]);
  const at = bytes.indexOf(needle);
  assert.ok(at >= 0, `${from} op type not found`);
  bytes.write(to, at + 2, 'latin1');
}

describe('model coverage and export names', function () {
  const scratches: { cleanup: () => void }[] = [];
  const scratch = (format: FormatName) => {
    const s = copyModel('mlp', format);
    scratches.push(s);
    return s.dir;
  };
  afterEach(() => scratches.splice(0).forEach((s) => s.cleanup()));

  it('legacy: every missing op type in one error, and inspectModel lists them with counts', async () => {
    const dir = scratch('legacy');
    const path = join(dir, 'model.pdmodel');
    const bytes = readFileSync(path);
    renameOp(bytes, 'relu', 'relq');
    renameOp(bytes, 'softmax', 'softmaz');
    renameOp(bytes, 'gelu', 'gelq');
    writeFileSync(path, bytes);
    await assert.rejects(Predictor.load({ modelDir: dir, requireSignature: false }), (err: Error) => {
      assert.ok(err instanceof UnsupportedOpError, String(err));
      assert.match(err.message, /^3 unsupported op types in model\.pdmodel: gelq, relq, softmaz \(builtin backend supports: /);
      return true;
    });
    const c = inspectModel(dir);
    assert.deepEqual(c.unsupported, ['gelq', 'relq', 'softmaz']);
    assert.equal(c.format, 'pdmodel');
    assert.deepEqual(c.inputs, [{ name: 'x', dtype: 'float32', shape: [-1, 64] }]);
    assert.equal(c.outputs.length, 1);
    assert.equal(c.opCounts.matmul_v2, 3);
    assert.equal(c.totalOps - c.supportedOps, 3);
    const text = formatCoverage(dir, c).join('\n');
    assert.match(text, /coverage: INCOMPLETE, 3 unsupported op type\(s\): gelq, relq, softmaz/);
  });

  it('paddle-model inspect: a verified model with missing ops prints its coverage and exits 1', async () => {
    const dir = scratch('legacy');
    const path = join(dir, 'model.pdmodel');
    const bytes = readFileSync(path);
    renameOp(bytes, 'relu', 'relq');
    renameOp(bytes, 'softmax', 'softmaz');
    writeFileSync(path, bytes);
    writeSignature(dir, digestsOf(dir, ['model.pdmodel', 'model.pdiparams']));
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['inspect', '--key', join(FIXTURES, 'keys', 'test-only-rsa2048.pub.pem'), dir], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    assert.equal(code, 1);
    const doc = JSON.parse(out.join('\n'));
    assert.deepEqual(doc.coverage.unsupportedOps, ['relq', 'softmaz']);
    assert.equal(doc.coverage.totalOps - doc.coverage.supportedOps, 2);
    assert.deepEqual(doc.inputs, [{ name: 'x', dtype: 'float32', shape: [-1, 64] }]);
    assert.match(err.join('\n'), /cannot run relq, softmaz/);
  });

  it('PIR: unknown ops keep their pd_op names, counted, and the rest of the program still parses', async () => {
    const dir = scratch('pir');
    const path = join(dir, 'model.json');
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.replace('"1.relu"', '"1.frobnicate"').replaceAll('"1.add"', '"1.add_n_things"'));
    await assert.rejects(Predictor.load({ modelDir: dir, requireSignature: false }), (err: Error) => {
      assert.ok(err instanceof UnsupportedOpError, String(err));
      assert.match(err.message, /^2 unsupported op types in model\.json: pd_op\.add_n_things \(x3\), pd_op\.frobnicate \(/);
      return true;
    });
    assert.deepEqual(inspectModel(dir).unsupported, ['pd_op.add_n_things (x3)', 'pd_op.frobnicate']);
  });

  it('inspectModel on a supported model: complete coverage; on a bad directory: a typed error', () => {
    const dir = scratch('pir');
    const c = inspectModel(dir);
    assert.deepEqual(c.unsupported, []);
    assert.equal(c.supportedOps, c.totalOps);
    assert.equal(c.programFile, 'model.json');
    assert.match(formatCoverage(dir, c).at(-1) as string, /coverage: complete/);
    rmSync(join(dir, 'model.json'));
    assert.throws(() => inspectModel(dir), (err: Error) => err instanceof ModelFormatError && /looked for model\.pdmodel, inference\.pdmodel, model\.json, inference\.json/.test(err.message));
  });

  for (const [format, program] of [
    ['legacy', 'pdmodel'],
    ['pir', 'json'],
  ] as const) {
    it(`${format}: inference.${program} + inference.pdiparams load like model.*, signed over the files present`, async () => {
      const dir = scratch(format);
      renameSync(join(dir, `model.${program}`), join(dir, `inference.${program}`));
      renameSync(join(dir, 'model.pdiparams'), join(dir, 'inference.pdiparams'));
      // The old signature names model.*: refused, naming what is missing.
      await assert.rejects(
        Predictor.load({ modelDir: dir, publicKeyPem: key('rsa2048', 'pub') }),
        (err: Error) => err instanceof ModelVerificationError && /inference\.(pdmodel|json) is not listed in signature\.json/.test(err.message),
      );
      writeSignature(dir, digestsOf(dir, [`inference.${program}`, 'inference.pdiparams']));
      const p = await Predictor.load({ modelDir: dir, publicKeyPem: key('rsa2048', 'pub') });
      try {
        assert.equal(p.info().verified, true);
        const { cases } = loadCases('mlp');
        for (const c of cases) {
          const out = await p.run(c.inputs);
          const ref = c.outputs[format][0];
          const got = Object.values(out)[0];
          assert.ok(ref && got);
          assert.ok(maxAbsDiff(got.data, ref.data) <= 1e-4);
        }
      } finally {
        p.dispose();
      }
      // Parameters not signed: refused.
      writeSignature(dir, digestsOf(dir, [`inference.${program}`]));
      await assert.rejects(
        Predictor.load({ modelDir: dir, publicKeyPem: key('rsa2048', 'pub') }),
        (err: Error) => err instanceof ModelVerificationError && /inference\.pdiparams is not listed/.test(err.message),
      );
    });
  }
});
