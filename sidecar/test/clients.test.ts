// Triton's own Python clients (tritonclient.http, binary tensor extension on and off) against the
// in-process sidecar running the real native predictor on the signed MLP fixture: live, ready,
// metadata, config and inference, every result equal element for element to the sidecar's JSON
// path and within float tolerance of the outputs real Paddle produced; FP16 inputs; BYTES, a
// missing token and a token without the inference scope refused.

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { MODEL, startHarness, type Harness } from './helpers/harness.js';
import { checkClientRun, MLP_CASES, runTritonClients } from './helpers/clients.js';
import { loadMlpPredictor } from './helpers/predictors.js';

describe('tritonclient.http against the sidecar (binary tensor extension on and off)', function () {
  this.timeout(300_000); // above the Python client run's 120 s bound: a safety net on a loaded machine
  let h: Harness;
  before(async () => {
    h = await startHarness({ predictor: await loadMlpPredictor(), tls: 'none' });
  });
  after(async () => {
    await h.close();
  });

  it('live, ready, metadata, config and infer match the JSON path exactly', async () => {
    const out = await runTritonClients(h.dir, {
      http: `127.0.0.1:${h.port}`,
      json_url: h.url,
      token: await h.token('model_inference'),
      wrong_scope_token: await h.token('data_protection'),
      model: MODEL,
      cases: MLP_CASES,
      max_cases: 3,
    });
    checkClientRun(out.http, 'http');
    const infer = h.audits.filter((a) => a.action === 'infer');
    assert.ok(infer.some((a) => a.status === 200), 'binary requests are audited like JSON ones');
  });

  it('a binary request is answered the same on both spellings of the infer route (trailing slash)', async () => {
    const token = await h.token('model_inference');
    const x = Buffer.from(Float32Array.from({ length: 64 }, (_, i) => (i % 7) / 7).buffer);
    const header = Buffer.from(JSON.stringify({ id: 'bin', inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', parameters: { binary_data_size: x.length } }], parameters: { binary_data_output: true } }));
    const post = (path: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest(`${h.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.end(Buffer.concat([header, x]));
      });
    const plain = await post(`/v2/models/${MODEL}/infer`);
    const slash = await post(`/v2/models/${MODEL}/infer/`); // a trailing slash: the same route
    for (const r of [plain, slash]) {
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      const n = Number(r.headers['inference-header-content-length']);
      const head = JSON.parse(r.body.subarray(0, n).toString()) as { id: string; outputs: { name: string; parameters: { binary_data_size: number } }[] };
      assert.equal(head.id, 'bin');
      assert.equal(head.outputs[0]?.parameters.binary_data_size, 40);
      assert.equal(r.body.length, n + 40);
    }
    assert.deepEqual(slash.body, plain.body);
  });
});
