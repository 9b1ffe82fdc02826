// Triton's own Python clients (tritonclient.http, binary tensor extension on and off) against the
// in-process sidecar running the real native predictor on the signed MLP fixture: live, ready,
// metadata, config and inference, every result equal element for element to the sidecar's JSON
// path and within float tolerance of the outputs real Paddle produced; FP16 inputs; BYTES, a
// missing token and a token without the inference scope refused.

import assert from 'node:assert/strict';
import { MODEL, startHarness, type Harness } from './helpers/harness.js';
import { MLP_CASES, runTritonClients, type ClientRun } from './helpers/clients.js';
import { loadMlpPredictor } from './helpers/predictors.js';

export function checkClientRun(r: ClientRun | undefined, kind: 'http' | 'grpc'): void {
  assert.ok(r, `${kind} ran`);
  assert.equal(r.live, true);
  assert.equal(r.ready, true);
  assert.equal(r.model_ready, true);
  assert.equal(r.server_metadata.name, 'paddle-sidecar');
  assert.ok(r.server_metadata.extensions.includes('binary_tensor_data'));
  assert.equal(r.model_metadata.name, MODEL);
  assert.deepEqual(r.model_metadata.inputs.map((i) => [i.name, i.datatype, i.shape.map(Number)]), [['x', 'FP32', [-1, 64]]]);
  const cfg = (kind === 'grpc' ? (r.model_config as { config: Record<string, unknown> }).config : r.model_config) as { name: string; input: { name: string; data_type: string }[] };
  assert.equal(cfg.name, MODEL);
  assert.deepEqual(cfg.input.map((i) => [i.name, i.data_type]), [['x', 'TYPE_FP32']]);
  assert.ok(r.cases.length >= (kind === 'http' ? 4 : 2), `cases: ${r.cases.length}`);
  for (const c of r.cases) {
    assert.equal(c.equal_to_json_path, true, `${c.case} binary=${c.binary}: equal to the JSON path`);
    assert.equal(c.dtype, 'float32');
    assert.ok(c.max_abs_diff_paddle < 1e-5, `${c.case}: ${c.max_abs_diff_paddle} from Paddle's output`);
    assert.equal(c.id, `${c.case}-${c.binary === null ? 'None' : c.binary ? 'True' : 'False'}`, 'the request id is echoed');
  }
  assert.equal(r.fp16_equal_to_json_path, true, 'FP16 input widened exactly');
  assert.match(r.bytes_error ?? '', /BYTES \(string\) tensors are not supported/);
  assert.match(r.no_token_error ?? '', kind === 'http' ? /missing bearer token|401|token/i : /UNAUTHENTICATED/);
  assert.match(r.wrong_scope_error ?? '', kind === 'http' ? /insufficient permissions/ : /PERMISSION_DENIED.*insufficient permissions/);
  assert.match(r.unknown_model_error ?? '', kind === 'http' ? /not served here/ : /NOT_FOUND.*not served here/);
}

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
