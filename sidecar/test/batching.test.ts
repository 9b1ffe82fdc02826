// Dynamic batching through the app (spec.batching on, real MLP predictor): concurrent REST and
// gRPC callers share predictor runs, yet each gets exactly the outputs of its own run alone,
// its own trace (server span + predictor.run child that names the shared batch), its own audit
// record and access line; the model config reports the batching; off by default.

import assert from 'node:assert/strict';
import { createGrpcFrontEnd } from '../src/grpc/server.js';
import { MODEL, startHarness, type Harness } from './helpers/harness.js';
import { inferenceClient } from './helpers/grpc-client.js';
import { request } from './helpers/http.js';
import { loadMlpPredictor, MLP_OUTPUT } from './helpers/predictors.js';

const rowData = (seed: number): number[] => Array.from({ length: 64 }, (_, i) => Math.round(Math.sin(seed * 31 + i) * 1000) / 1000);

describe('dynamic batching through the app', function () {
  this.timeout(120000);
  let h: Harness;
  before(async () => {
    h = await startHarness({
      predictor: await loadMlpPredictor(),
      tls: 'none',
      // A generous delay so concurrent callers meet even on a loaded machine.
      config: { batching: { enabled: true, maxBatchSize: 8, maxQueueDelayMicroseconds: 200000, preferredBatchSizes: [] } },
    });
  });
  after(async () => {
    await h.close();
  });

  it('is off by default', async () => {
    const d = await startHarness({ predictor: h.predictor, tls: 'none' });
    try {
      const cfg = (await request(`${d.url}/v2/models/${MODEL}/config`)).json as { max_batch_size: number; dynamic_batching?: unknown };
      assert.equal(cfg.max_batch_size, 0);
      assert.equal(cfg.dynamic_batching, undefined);
    } finally {
      await d.close();
    }
  });

  it('the model config names the batching; dims leave out the batch dimension', async () => {
    const cfg = (await request(`${h.url}/v2/models/${MODEL}/config`)).json as { max_batch_size: number; input: { dims: number[] }[]; dynamic_batching: unknown };
    assert.equal(cfg.max_batch_size, 8);
    assert.deepEqual(cfg.input[0]?.dims, [64]);
    assert.deepEqual(cfg.dynamic_batching, { preferred_batch_size: [], max_queue_delay_microseconds: 200000 });
  });

  it('concurrent REST and gRPC callers share runs; each gets its own run\'s outputs, trace, audit and access line', async () => {
    const token = await h.token('model_inference');
    const g = createGrpcFrontEnd({ core: h.sidecar.core });
    const port = await g.listen(0, '127.0.0.1');
    const client = inferenceClient(`127.0.0.1:${port}`);
    const auditsBefore = h.audits.length;
    h.spans.reset();
    try {
      const rest = [1, 2, 3, 4, 5].map((seed) =>
        request(`${h.url}/v2/models/${MODEL}/infer`, { body: { id: `r${seed}`, inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: rowData(seed) }] }, headers: { authorization: `Bearer ${token}` } }).then((r) => {
          assert.equal(r.status, 200, r.text);
          return (r.json as { outputs: { data: number[] }[] }).outputs[0]?.data ?? [];
        }),
      );
      const grpc = [6, 7, 8].map((seed) =>
        client.call('ModelInfer', { model_name: MODEL, id: `g${seed}`, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], contents: { fp32_contents: rowData(seed) } }] }, { authorization: `Bearer ${token}` }).then((res) => {
          const raw = (res.raw_output_contents as Buffer[])[0] as Buffer;
          return Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)));
        }),
      );
      const got = await Promise.all([...rest, ...grpc]);
      for (const [i, seed] of [1, 2, 3, 4, 5, 6, 7, 8].entries()) {
        const alone = await h.predictor.run({ x: { dtype: 'float32', shape: [1, 64], data: Float32Array.from(rowData(seed)) } });
        const want = Array.from(alone[MLP_OUTPUT]?.data as Float32Array);
        const diff = Math.max(...want.map((v, j) => Math.abs(v - (got[i]?.[j] ?? NaN))));
        assert.ok(diff < 1e-6, `caller ${seed}: ${diff} from its own run`);
      }
      const runs = h.spans.getFinishedSpans().filter((s) => s.name === 'predictor.run');
      assert.equal(runs.length, 8, 'one predictor.run span per caller');
      assert.equal(new Set(runs.map((s) => s.spanContext().traceId)).size, 8, 'each in its own trace');
      assert.ok(runs.some((s) => Number(s.attributes['paddle.batch.requests']) > 1), `some calls shared a run: ${runs.map((s) => s.attributes['paddle.batch.requests']).join(',')}`);
      const audits = h.audits.slice(auditsBefore).filter((a) => a.action === 'infer' && a.status === 200);
      assert.equal(audits.length, 8, 'one audit record per caller');
      assert.equal(new Set(audits.map((a) => a.requestId)).size, 8);
    } finally {
      client.close();
      await g.close();
    }
  });
});
