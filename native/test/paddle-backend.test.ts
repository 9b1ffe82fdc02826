// The "paddle" backend (Paddle Inference C API via dlopen), driven through OUR TEST DOUBLE
// (native/test-double/, built on the builtin executor): this checks library loading, symbol
// binding, the version check, per-run predictor clones and tensor marshalling. It does not
// test the real Paddle Inference library, which is not available here.
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { PaddleError, Predictor } from '../lib/index.js';
import { FIXTURES, FORMATS, MODELS, key, loadCases, maxAbsDiff, modelDir } from './fixtures.js';

const DOUBLE = resolve(FIXTURES, '../../build/Release/libpaddle_inference_c_double.so');
const RSA_PUB = key('rsa2048', 'pub');

describe('paddle backend (through the C API test double)', function () {
  for (const model of MODELS) {
    for (const format of FORMATS) {
      it(`${model} / ${format}: marshals inputs and outputs exactly`, async () => {
        const { cases, outputNames } = loadCases(model);
        const p = await Predictor.load({ modelDir: modelDir(model, format), publicKeyPem: RSA_PUB, backend: 'paddle', paddleLibraryPath: DOUBLE });
        try {
          assert.equal(p.info().backend, 'paddle');
          assert.equal(p.info().backendVersion, 'paddle-inference-3.0.0');
          assert.equal(p.info().verified, true);
          for (const c of cases) {
            const out = await p.run(c.inputs);
            c.outputs[format].forEach((ref, j) => {
              const got = out[outputNames[format][j] as string];
              assert.ok(got);
              assert.deepEqual(got.shape, ref.shape);
              assert.ok(maxAbsDiff(got.data, ref.data) <= 1e-4);
            });
          }
        } finally {
          p.dispose();
        }
      });
    }
  }

  it('runs concurrently on per-run predictor clones', async () => {
    const { cases } = loadCases('mlp');
    const p = await Predictor.load({ modelDir: modelDir('mlp', 'legacy'), publicKeyPem: RSA_PUB, backend: 'paddle', paddleLibraryPath: DOUBLE });
    const runs = Array.from({ length: 40 }, (_, i) => cases[i % cases.length]!);
    const outs = await Promise.all(runs.map((c) => p.run(c.inputs)));
    outs.forEach((out, i) => assert.ok(maxAbsDiff(out['softmax_0.tmp_0']!.data, runs[i]!.outputs.legacy[0]!.data) <= 1e-4));
    p.dispose();
  });

  it('names the library and the search path when it cannot be loaded', async () => {
    await assert.rejects(
      Predictor.load({ modelDir: modelDir('mlp', 'legacy'), publicKeyPem: RSA_PUB, backend: 'paddle', paddleLibraryPath: 'libpaddle_inference_c_missing.so' }),
      (e: unknown) =>
        e instanceof PaddleError &&
        e.code === 'ERR_BACKEND' &&
        /cannot load the Paddle Inference C library "libpaddle_inference_c_missing\.so".*searched: LD_LIBRARY_PATH=/.test(e.message),
    );
    await assert.rejects(
      Predictor.load({ modelDir: modelDir('mlp', 'legacy'), publicKeyPem: RSA_PUB, backend: 'paddle', paddleLibraryPath: join(FIXTURES, 'nope.so') }),
      /that path only/,
    );
  });

  it('refuses a library whose version differs from the one the image was built for', async () => {
    process.env.PADDLE_DOUBLE_VERSION = '2.6.2';
    try {
      await assert.rejects(
        Predictor.load({ modelDir: modelDir('mlp', 'legacy'), publicKeyPem: RSA_PUB, backend: 'paddle', paddleLibraryPath: DOUBLE }),
        (e: unknown) => e instanceof PaddleError && e.code === 'ERR_BACKEND' && /reports version "2\.6\.2" but this image was built for 3\.0\.0/.test(e.message),
      );
      const p = await Predictor.load({
        modelDir: modelDir('mlp', 'legacy'),
        publicKeyPem: RSA_PUB,
        backend: 'paddle',
        paddleLibraryPath: DOUBLE,
        paddleVersion: '2.6.2',
      });
      assert.equal(p.info().backendVersion, 'paddle-inference-2.6.2');
      p.dispose();
    } finally {
      delete process.env.PADDLE_DOUBLE_VERSION;
    }
  });

  it('still verifies signatures before handing bytes to Paddle', async () => {
    await assert.rejects(
      Predictor.load({ modelDir: modelDir('mlp', 'legacy'), publicKeyPem: key('ed25519', 'pub'), backend: 'paddle', paddleLibraryPath: DOUBLE }),
      /wrong key/,
    );
  });
});
