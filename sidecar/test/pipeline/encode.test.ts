// The encode stage: an inference answer as OIP JSON, inline for small answers and on a pool of
// worker threads for large ones (the event loop keeps answering meanwhile), with the same bytes
// and the same refusals either way, and idle workers that give their heaps back. The worker's
// entry (encode-worker.ts) and how it is started from the sources or the build
// (module-worker.ts) run in every pooled case here.

import assert from 'node:assert/strict';
import { SidecarError } from '../../src/errors.js';
import { buildInferResponse } from '../../src/oip.js';
import { ResponseEncoder } from '../../src/pipeline/encode.js';
import type { Tensor } from '../../src/predictor.js';
import { until } from '../helpers/until.js';

describe('pipeline stage: encode (inline and off the main thread)', () => {
  const outputs = (n: number, poison?: number): Record<string, Tensor> => {
    const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e-3 * i);
    if (poison !== undefined) data[poison] = Number.NaN;
    return { y: { dtype: 'float32', shape: [1, n], data }, ids: { dtype: 'int64', shape: [2], data: BigInt64Array.from([1n, -7n]) } };
  };

  it('encodes a small answer inline: the JSON of buildInferResponse, as a string, with no worker started', () => {
    const enc = new ResponseEncoder({ inlineElements: 100, workers: 2 });
    try {
      const out = outputs(50);
      const text = enc.encode('m', '1', 'req-7', out, undefined);
      assert.equal(typeof text, 'string');
      assert.equal(text, JSON.stringify(buildInferResponse('m', '1', 'req-7', out, undefined)));
      // Only the selected outputs count toward the threshold.
      const big = outputs(5000);
      assert.equal(typeof enc.encode('m', '1', undefined, big, ['ids']), 'string', '2 selected elements: inline');
      assert.equal(enc.workerCount, 0);
    } finally {
      enc.close();
    }
  });

  it('spreads concurrent large answers over at most `workers` threads, each answer its own bytes', async () => {
    const inline = new ResponseEncoder({ inlineElements: Number.MAX_SAFE_INTEGER });
    const pooled = new ResponseEncoder({ inlineElements: 1, workers: 2 });
    try {
      const outs = [outputs(30000), outputs(20000), outputs(10000), outputs(5000)];
      const bodies = await Promise.all(outs.map((o, i) => pooled.encode('m', '1', `req-${i}`, o, undefined)));
      assert.ok(pooled.workerCount >= 1 && pooled.workerCount <= 2, `workers: ${pooled.workerCount}`);
      bodies.forEach((b, i) => assert.equal(b.toString('utf8'), inline.encode('m', '1', `req-${i}`, outs[i] as Record<string, Tensor>, undefined), `answer ${i}`));
    } finally {
      inline.close();
      pooled.close();
    }
  });

  it('once closed, encodes inline (no worker is started for a late answer)', () => {
    const pooled = new ResponseEncoder({ inlineElements: 1, workers: 2 });
    pooled.close();
    assert.equal(typeof pooled.encode('m', '1', undefined, outputs(1000), undefined), 'string');
    assert.equal(pooled.workerCount, 0);
  });

  it('once idle, the encoder has its workers collect their heaps (and keeps them)', async () => {
    const pooled = new ResponseEncoder({ inlineElements: 1, workers: 2, idleReleaseMs: 50 });
    try {
      await pooled.encode('m', '1', undefined, outputs(20000), undefined);
      assert.equal(pooled.workerCount, 1, 'a worker encoded it');
      await until('the idle worker to collect its heap', () => pooled.idleCollections === 1);
      assert.equal(pooled.workerCount, 1, 'the worker stays (no start cost for the next answer)');
      const again = await pooled.encode('m', '1', undefined, outputs(3), undefined);
      assert.match(again.toString(), /^\{"model_name":"m"/);
      await until('a second idle collection after the next answer', () => pooled.idleCollections === 2);
    } finally {
      pooled.close();
    }
  });

  it('a worker gives the same bytes as the inline encoder', async () => {
    const inline = new ResponseEncoder({ inlineElements: Number.MAX_SAFE_INTEGER });
    const pooled = new ResponseEncoder({ inlineElements: 1, workers: 2 });
    try {
      const out = outputs(50000);
      const a = inline.encode('m', '1', 'req-1', out, undefined);
      const b = pooled.encode('m', '1', 'req-1', out, undefined);
      assert.equal(typeof a, 'string');
      assert.ok(b instanceof Promise);
      assert.equal((await b).toString('utf8'), a);
      const sel = await pooled.encode('m', '1', undefined, out, ['ids']);
      assert.equal(sel.toString(), JSON.stringify({ model_name: 'm', model_version: '1', outputs: [{ name: 'ids', shape: [2], datatype: 'INT64', data: [1, -7] }] }));
    } finally {
      inline.close();
      pooled.close();
    }
  });

  it('NaN in an output is refused with 422 on either path, naming the output and the first index', async () => {
    const pooled = new ResponseEncoder({ inlineElements: 1 });
    try {
      const runs: Array<() => string | Promise<Buffer>> = [
        () => new ResponseEncoder({ inlineElements: 1e9 }).encode('m', '1', undefined, outputs(10, 3), undefined),
        () => pooled.encode('m', '1', undefined, outputs(40000, 123), undefined),
      ];
      for (const run of runs) {
        const err = await Promise.resolve()
          .then(async () => run())
          .then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof SidecarError, String(err));
        assert.equal(err.httpStatus, 422);
        assert.match(err.message, /output y holds 1 non-finite value \(first at flat index (3|123): NaN\)/);
      }
    } finally {
      pooled.close();
    }
  });
});
