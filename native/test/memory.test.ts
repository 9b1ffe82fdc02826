// Memory: estimateRunBytes against the arena real runs take, and the arena shrinking back
// after one oversize batch.
import assert from 'node:assert/strict';
import { Predictor, ShapeError, type Tensor } from '../lib/index.js';
import { FORMATS, key, loadCases, modelDir, type ModelName } from './fixtures.js';

const RSA_PUB = key('rsa2048', 'pub');
const ELEMENT_BYTES = { float32: 4, int64: 8, int32: 4 } as const;

function bytesOf(tensors: Record<string, Tensor>): number {
  let n = 0;
  for (const t of Object.values(tensors)) n += t.data.length * ELEMENT_BYTES[t.dtype];
  return n;
}

function shapesOf(inputs: Record<string, Tensor>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.shape]));
}

function zeros(p: Predictor, batch: number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const info of p.inputs()) {
    const shape = info.shape.map((d) => (d === -1 ? batch : d));
    const n = shape.reduce((a, b) => a * b, 1);
    out[info.name] = { dtype: 'float32', shape, data: new Float32Array(n) };
  }
  return out;
}

describe('memory estimate and arena', function () {
  this.timeout(120000);

  for (const model of ['mlp', 'cnn', 'transformer', 'opset'] as ModelName[]) {
    for (const format of FORMATS) {
      it(`${model} (${format}): estimateRunBytes = a fresh run's arena + its input and output copies`, async () => {
        const { cases } = loadCases(model);
        for (const c of cases) {
          const p = await Predictor.load({ modelDir: modelDir(model, format), publicKeyPem: RSA_PUB });
          try {
            assert.equal(p.stats().memory.arenaBytes, 0, 'no arena held after load');
            const estimate = p.estimateRunBytes(shapesOf(c.inputs));
            assert.equal(p.stats().memory.arenaBytes, 0, 'estimating allocates no arena');
            const outputs = await p.run(c.inputs);
            const arena = p.stats().memory.arenaBytes;
            const io = bytesOf(c.inputs) + bytesOf(outputs);
            assert.ok(arena > 0, `${c.id}: the run used an arena`);
            assert.ok(estimate >= arena + io, `${c.id}: estimate ${estimate} below arena ${arena} + io ${io}`);
            assert.equal(estimate, arena + io, `${c.id}: the shape-only pass plans the run's slabs exactly`);
          } finally {
            p.dispose();
          }
        }
      });
    }
  }

  it('grows with the batch and does not depend on what ran before', async () => {
    const p = await Predictor.load({ modelDir: modelDir('cnn', 'legacy'), publicKeyPem: RSA_PUB });
    try {
      const e1 = p.estimateRunBytes({ image: [1, 3, 32, 32] });
      const e64 = p.estimateRunBytes({ image: [64, 3, 32, 32] });
      assert.ok(e64 > 32 * e1, `b64 ${e64} vs b1 ${e1}`);
      await p.run(zeros(p, 8));
      assert.equal(p.estimateRunBytes({ image: [1, 3, 32, 32] }), e1);
    } finally {
      p.dispose();
    }
  });

  it('a transformer estimate follows the sequence length', async () => {
    const p = await Predictor.load({ modelDir: modelDir('transformer', 'pir'), publicKeyPem: RSA_PUB });
    try {
      const s16 = p.estimateRunBytes({ tokens: [2, 16] });
      const s256 = p.estimateRunBytes({ tokens: [2, 256] });
      assert.ok(s256 > 16 * s16, `s256 ${s256} vs s16 ${s16} (attention is quadratic in the length)`);
    } finally {
      p.dispose();
    }
  });

  it('refuses unknown or missing inputs (TypeError) and shapes the model does not take (ShapeError)', async () => {
    const p = await Predictor.load({ modelDir: modelDir('cnn', 'legacy'), publicKeyPem: RSA_PUB });
    try {
      const argErr = (re: RegExp) => (e: unknown) =>
        e instanceof TypeError && (e as TypeError & { code?: string }).code === 'ERR_INVALID_ARGUMENT' && re.test((e as Error).message);
      assert.throws(() => p.estimateRunBytes({ image: [1, 3, 32, 32], other: [1] }), argErr(/unknown input "other"/));
      assert.throws(() => p.estimateRunBytes({}), argErr(/missing input "image"/));
      assert.throws(() => p.estimateRunBytes({ image: [1, 3, 32] }), (e: unknown) => e instanceof ShapeError && /rank 4/.test((e as Error).message));
      assert.throws(() => p.estimateRunBytes({ image: [1, 3, 16, 32] }), ShapeError);
      assert.throws(() => p.estimateRunBytes({ image: [0, 3, 32, 32] }), ShapeError);
      assert.throws(() => p.estimateRunBytes({ image: 'big' as never }), TypeError);
      assert.throws(() => p.estimateRunBytes({ image: [1.5, 3, 32, 32] }), RangeError);
      assert.throws(() => p.estimateRunBytes(null as never), TypeError);
      assert.ok(p.estimateRunBytes({ image: [1, 3, 32, 32] }) > 0, 'still usable after the refusals');
    } finally {
      p.dispose();
    }
  });

  it('the arena returns to its steady size after one oversize batch (arena bytes and RSS)', async () => {
    const p = await Predictor.load({ modelDir: modelDir('cnn', 'legacy'), publicKeyPem: RSA_PUB });
    try {
      const small = zeros(p, 1);
      for (let i = 0; i < 3; i++) await p.run(small);
      const steady = p.stats().memory.arenaBytes;
      const rssSteady = process.memoryUsage().rss;
      const bigBatch = 1024;
      const bigEstimate = p.estimateRunBytes({ image: [bigBatch, 3, 32, 32] });
      assert.ok(bigEstimate > 200 * 1024 * 1024, `the big batch needs ${bigEstimate} bytes`);
      await p.run(zeros(p, bigBatch));
      assert.ok(p.stats().memory.arenaBytes <= steady, `arena ${p.stats().memory.arenaBytes} after the big batch, steady ${steady}`);
      const rssAfter = process.memoryUsage().rss;
      assert.ok(rssAfter - rssSteady < bigEstimate / 4, `RSS grew by ${rssAfter - rssSteady} bytes after a ${bigEstimate}-byte run`);
      await p.run(small);
      assert.equal(p.stats().memory.arenaBytes, steady, 'the next small run maps its steady size again');
    } finally {
      p.dispose();
    }
  });
});
