// Parity with real Paddle: every fixture model, both formats, every case; max abs error <= 1e-4.
import assert from 'node:assert/strict';
import { Predictor } from '../lib/index.js';
import { FORMATS, MODELS, key, loadCases, maxAbsDiff, modelDir } from './fixtures.js';

const TOLERANCE = 1e-4;

describe('native predictor parity with Paddle 3.0.0 outputs', function () {
  let worst = { err: 0, where: '' };
  after(() => console.log(`      worst max abs error over all fixtures: ${worst.err.toExponential(3)} (${worst.where})`));

  for (const model of MODELS) {
    for (const format of FORMATS) {
      it(`${model} / ${format}: every case within ${TOLERANCE}`, async () => {
        const { cases, outputNames } = loadCases(model);
        const p = await Predictor.load({ modelDir: modelDir(model, format), publicKeyPem: key('rsa2048', 'pub') });
        try {
          assert.equal(p.info().verified, true);
          assert.deepEqual(
            p.outputs().map((o) => o.name),
            outputNames[format],
          );
          for (const c of cases) {
            const out = await p.run(c.inputs);
            const refs = c.outputs[format];
            assert.equal(Object.keys(out).length, refs.length);
            refs.forEach((ref, j) => {
              const name = outputNames[format][j] as string;
              const got = out[name];
              assert.ok(got, `output ${name} missing`);
              assert.deepEqual(got.shape, ref.shape, `${c.id} ${name} shape`);
              assert.equal(got.dtype, ref.dtype);
              const err = maxAbsDiff(got.data, ref.data);
              if (err > worst.err) worst = { err, where: `${model}/${format}/${c.id}/${name}` };
              assert.ok(err <= TOLERANCE, `${model}/${format}/${c.id}/${name}: max abs error ${err} > ${TOLERANCE}`);
            });
          }
        } finally {
          p.dispose();
        }
      });
    }
  }
});
