// Dynamic batching through the app (spec.batching on, real MLP predictor): concurrent REST and
// gRPC callers share predictor runs, yet each gets exactly the outputs of its own run alone,
// its own trace (server span + predictor.run child that names the shared batch), its own audit
// record and access line; the model config reports the batching; off by default. One caller's
// bad input in a shared run (an out-of-vocabulary token on the real transformer) fails only that
// caller, with the error of its own run; the others keep their answers, audit records, access
// lines and matrix cells, and the breaker counts nothing.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Predictor } from '../../native/lib/index.js';
import { createGrpcFrontEnd } from '../src/grpc/server.js';
import { MODEL, startHarness, validLogLines, type Harness } from './helpers/harness.js';
import { inferenceClient } from './helpers/grpc-client.js';
import { request } from './helpers/http.js';
import { loadMlpPredictor, MLP_DIR, MLP_OUTPUT, RSA_PUB } from './helpers/predictors.js';

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

  it('one bad input in a shared run fails only its caller, with its own run\'s error; the others keep answer, audit, access line and matrix cell', async () => {
    const transformer = await Predictor.load({ modelDir: join(MLP_DIR, '../../transformer/legacy'), publicKeyPem: readFileSync(RSA_PUB, 'utf8'), cpuThreads: 1 });
    const t = await startHarness({
      predictor: transformer,
      tls: 'none',
      // Four callers fill a batch of 4, which leaves at once; the delay (the longest allowed) only has to outlast their arrival.
      config: { batching: { enabled: true, maxBatchSize: 4, maxQueueDelayMicroseconds: 1_000_000, preferredBatchSizes: [] } },
    });
    try {
      const token = await t.token('model_inference');
      const tokens = (seed: number, bad = false): number[] => Array.from({ length: 16 }, (_, i) => (bad && i === 2 ? 100000 : (seed * 31 + i * 7) % 1000));
      const seeds = [1, 2, 3, 4];
      const badSeed = 3;
      const infer = (seed: number, bad = false): ReturnType<typeof request> =>
        request(`${t.url}/v2/models/${MODEL}/infer`, {
          body: { inputs: [{ name: 'tokens', shape: [1, 16], datatype: 'INT64', data: tokens(seed, bad) }] },
          headers: { authorization: `Bearer ${token}`, 'x-request-id': `batch-isolation-${seed}` },
        });
      // One call first: the token is verified and cached, so the four below reach the batcher together.
      assert.equal((await infer(0)).status, 200);
      const statsBefore = transformer.stats();
      const matrixBefore = t.sidecar.buildReport().matrix.total;
      const auditsBefore = t.audits.length;
      const answers = await Promise.all(seeds.map((seed) => infer(seed, seed === badSeed)));
      const stats = transformer.stats();
      assert.deepEqual([stats.runs - statsBefore.runs, stats.failures - statsBefore.failures], [5, 2], 'one merged run of 4 that failed, then each caller alone (the bad one failing again)');
      for (const [i, seed] of seeds.entries()) {
        const r = answers[i];
        assert.ok(r);
        if (seed === badSeed) {
          assert.equal(r.status, 400, r.text);
          // Position 2 of its own 16 tokens: the error of its own run, not of the merged one.
          assert.match(r.text, /lookup_table_v2: id 100000 at position 2 is outside the table/);
          continue;
        }
        assert.equal(r.status, 200, r.text);
        const alone = await transformer.run({ tokens: { dtype: 'int64', shape: [1, 16], data: BigInt64Array.from(tokens(seed).map(BigInt)) } });
        for (const out of (r.json as { outputs: { name: string; data: number[] }[] }).outputs) {
          const want = Array.from(alone[out.name]?.data as Float32Array);
          const diff = Math.max(...want.map((v, j) => Math.abs(v - (out.data[j] ?? NaN))));
          assert.ok(diff < 1e-5, `caller ${seed} output ${out.name}: ${diff} from its own run`);
        }
      }
      const access = validLogLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['@log.kind'] === 'access' && /^batch-isolation-[1-9]/.test(String(l.request_id)));
      assert.deepEqual(access.map((l) => `${String(l.request_id)}:${String(l.status)}`).sort(), ['batch-isolation-1:200', 'batch-isolation-2:200', 'batch-isolation-3:400', 'batch-isolation-4:200']);
      for (const l of access.filter((x) => x.status === 200)) {
        // The merged run failed, so each caller ran again alone: its access line names that run.
        assert.deepEqual(l.batch, { requests: 1, rows: 1 }, JSON.stringify(l));
        assert.ok(((l.phases_ms as Record<string, number>).batch ?? -1) >= 0, JSON.stringify(l));
      }
      const audits = t.audits.slice(auditsBefore).filter((a) => a.requestId.startsWith('batch-isolation-'));
      assert.deepEqual(audits.map((a) => `${a.requestId}:${a.status}`).sort(), ['batch-isolation-1:200', 'batch-isolation-2:200', 'batch-isolation-3:400', 'batch-isolation-4:200']);
      assert.equal(t.sidecar.buildReport().matrix.total - matrixBefore, 3, 'one matrix cell per served caller');
      const metrics = (await request(`${t.metricsUrl}/metrics`)).text;
      assert.doesNotMatch(metrics, /paddle_request_failures_total\{[^}]*reason="predictor"[^}]*\} [1-9]/, 'an input error never counts as a predictor failure');
      assert.match(metrics, /paddle_breaker_state\{group="control"\} 0/);
    } finally {
      await t.close();
      transformer.dispose();
    }
  });
});
