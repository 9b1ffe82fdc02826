// Triton's own Python clients (tritonclient.http, binary tensor extension on and off) against the
// in-process sidecar running the real native predictor on the signed MLP fixture: live, ready,
// metadata, config and inference, every result equal element for element to the sidecar's JSON
// path and within float tolerance of the outputs real Paddle produced; FP16 inputs; BYTES, a
// missing token and a token without the inference scope refused.

import assert from 'node:assert/strict';
import { MODEL, startHarness, type Harness } from './helpers/harness.js';
import { checkClientRun, MLP_CASES, runTritonClients } from './helpers/clients.js';
import { loadMlpPredictor } from './helpers/predictors.js';

describe('tritonclient.http against the sidecar (binary tensor extension on and off)', function () {
  this.timeout(120000);
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
});
