// Inputs that are not what they claim: values outside their datatype's range (FP32 overflow
// such as 1e39, INT32 and INT64 range) are refused with 400 naming the element, a body that is
// not declared application/json gets 415 through the app (the stage's own cases are in
// pipeline/content-type.test.ts), and an output holding NaN or Infinity is reported (422)
// instead of being written as null with 200.

import assert from 'node:assert/strict';
import { parseInferRequest } from '../src/oip.js';
import { SidecarError } from '../src/errors.js';
import { mlpBody, MODEL, pki, startHarness, type Harness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { InProcessMlp, MLP_OUTPUT } from './helpers/predictors.js';
import type { Tensor, TensorInfo } from '../src/predictor.js';

const tensorOf = (datatype: string, data: unknown[]): unknown => ({ inputs: [{ name: 'v', datatype, shape: [data.length], data }] });
const model = (dtype: TensorInfo['dtype']): TensorInfo[] => [{ name: 'v', dtype, shape: [-1] }];
const refused = (fn: () => unknown, re: RegExp): void => assert.throws(fn, (e: unknown) => e instanceof SidecarError && e.httpStatus === 400 && re.test(e.message));

describe('inputs against their datatype', () => {
  it('FP32: 1e39 and -1e39 overflow and are refused; FP32_MAX and values that round to it pass', () => {
    refused(() => parseInferRequest(tensorOf('FP32', [0, 1e39]), model('float32'), []), /input v: data\[1\] 1e\+39 is outside the FP32 range/);
    refused(() => parseInferRequest(tensorOf('FP32', [-1e39]), model('float32'), []), /data\[0\] -1e\+39 is outside the FP32 range/);
    refused(() => parseInferRequest(tensorOf('FP32', [3.4028235677973366e38]), model('float32'), []), /outside the FP32 range/);
    const ok = parseInferRequest(tensorOf('FP32', [3.4028234663852886e38, -3.4028235e38, 1e-45]), model('float32'), []);
    assert.ok([...(ok.inputs.v?.data as Float32Array)].every((x) => Number.isFinite(x)));
  });
  it('INT32: out of range refused naming the range; INT64: integers beyond 2^53 as numbers refused, as strings accepted', () => {
    refused(() => parseInferRequest(tensorOf('INT32', [2147483648]), model('int32'), []), /data\[0\] 2147483648 is outside the INT32 range/);
    refused(() => parseInferRequest(tensorOf('INT32', [-2147483649]), model('int32'), []), /outside the INT32 range/);
    refused(() => parseInferRequest(tensorOf('INT64', [2 ** 60]), model('int64'), []), /beyond 2\^53 as a JSON number/);
    refused(() => parseInferRequest(tensorOf('INT64', ['9223372036854775808']), model('int64'), []), /out of INT64 range/);
    const ok = parseInferRequest(tensorOf('INT64', ['9223372036854775807', -5]), model('int64'), []);
    assert.deepEqual([...(ok.inputs.v?.data as BigInt64Array)], [9223372036854775807n, -5n]);
  });
});

class PoisonedMlp extends InProcessMlp {
  poison = false;
  override async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const out = await super.run(inputs);
    if (this.poison) (out[MLP_OUTPUT]?.data as Float32Array)[4] = Number.POSITIVE_INFINITY;
    return out;
  }
}

describe('inputs and outputs through the app', function () {
  this.timeout(120000);
  let hx: Harness;
  let p: PoisonedMlp;
  const ca = (): string => pki().caCert;
  before(async () => {
    p = new PoisonedMlp();
    hx = await startHarness({ predictor: p, config: { auth: { enabled: false } } });
  });
  after(async () => {
    await hx.close();
  });

  it('1e39 in an FP32 input is a 400 naming the element, not a 200 with null outputs', async () => {
    const body = mlpBody(1);
    (body.inputs as Array<{ data: number[] }>)[0]!.data[5] = 1e39;
    for (const path of [`/v2/models/${MODEL}/infer`, '/v1/predict']) {
      const r = await request(`${hx.url}${path}`, { ca: ca(), body });
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, /input x: data\[5\] 1e\+39 is outside the FP32 range/);
    }
  });

  it('text/plain, form and XML bodies get 415 on both routers; application/json is served', async () => {
    const json = JSON.stringify(mlpBody(1));
    for (const path of [`/v2/models/${MODEL}/infer`, `/v2/models/${MODEL}/infer/`, '/v1/predict']) {
      for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        const r = await request(`${hx.url}${path}`, { ca: ca(), rawBody: json, headers: { 'content-type': ct } });
        assert.equal(r.status, 415, `${ct} ${path}: ${r.text}`);
        assert.match(r.text, /is not supported: send application\/json/);
      }
    }
    assert.equal((await request(`${hx.url}/v2/models/${MODEL}/infer`, { ca: ca(), rawBody: json, headers: { 'content-type': 'application/json; charset=utf-8' } })).status, 200);
  });

  it('an output holding Infinity is a 422 naming it, never a 200 with null; the breaker does not count it', async () => {
    p.poison = true;
    try {
      const r = await request(`${hx.url}/v2/models/${MODEL}/infer`, { ca: ca(), body: mlpBody(1) });
      assert.equal(r.status, 422, r.text);
      assert.match(r.text, new RegExp(`output ${MLP_OUTPUT} holds 1 non-finite value \\(first at flat index 4: Infinity\\)`));
      assert.ok(!r.text.includes('null'));
    } finally {
      p.poison = false;
    }
    assert.equal(hx.sidecar.breakers.control.state, 'closed');
  });
});
