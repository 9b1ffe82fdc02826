// Admission before work through the app, and client errors kept away from the breaker: a
// request whose run needs more memory than the budget is refused with 422 naming both figures
// before the predictor runs; ten of them in a row (and ten runs the predictor itself refuses
// for memory) leave the breaker closed and the pod ready, so one caller cannot turn others away.

import assert from 'node:assert/strict';
import { MemoryLimitError } from '../../native/lib/index.js';
import { mlpBody, MODEL, pki, startHarness, type Harness } from './helpers/harness.js';
import { request, type TestResponse } from './helpers/http.js';
import { InProcessMlp } from './helpers/predictors.js';
import type { Tensor } from '../src/predictor.js';

const MIB = 1024 * 1024;

/** The MLP stand-in with an estimate of 10 MiB per row, and a switch to fail runs for memory like the addon. */
class BudgetedMlp extends InProcessMlp {
  calls = 0;
  refuseForMemory = false;
  estimateRunBytes(shapes: Record<string, readonly number[]>): number {
    return (shapes.x?.[0] ?? 0) * 10 * MIB;
  }
  override async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    this.calls++;
    if (this.refuseForMemory) throw new MemoryLimitError('working memory would reach 3000000000 bytes (parameters 0 + arena), above maxMemoryMB (2048 MiB)');
    return super.run(inputs);
  }
}

describe('admission and the breaker through the app', function () {
  this.timeout(120000);
  let h: Harness;
  let p: BudgetedMlp;
  const infer = (rows: number): Promise<TestResponse> => request(`${h.url}/v2/models/${MODEL}/infer`, { ca: pki().caCert, body: mlpBody(rows) });

  before(async () => {
    p = new BudgetedMlp();
    h = await startHarness({ predictor: p, config: { auth: { enabled: false } }, deps: { memoryBudgetBytes: 50 * MIB } });
  });
  after(async () => {
    await h.close();
  });

  it('refuses a run above the budget with 422 naming the need and the budget, before the predictor runs', async () => {
    const calls = p.calls;
    const r = await infer(8);
    assert.equal(r.status, 422, r.text);
    assert.match((r.json as { error: string }).error, /needs about 80\.\d MiB \(run 80\.0 MiB \+ response 0\.0 MiB\), above the memory budget of 50\.0 MiB per run/);
    assert.equal(p.calls, calls, 'no work was done');
    assert.equal((await infer(2)).status, 200, 'a run within the budget is served');
  });

  it('ten over-budget requests leave the breaker closed and the pod ready', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await infer(8)).status, 422);
    assert.equal(h.sidecar.breakers.control.state, 'closed');
    assert.equal((await request(`${h.healthUrl}/v2/health/ready`)).status, 200);
    assert.equal((await infer(1)).status, 200);
  });

  it('ten runs the predictor refuses for memory answer 422 and leave the breaker closed (failureThreshold is 10)', async () => {
    p.refuseForMemory = true;
    for (let i = 0; i < 10; i++) {
      const r = await infer(1);
      assert.equal(r.status, 422, r.text);
      assert.match((r.json as { error: string }).error, /needs more memory than the predictor may use: working memory would reach/);
    }
    p.refuseForMemory = false;
    assert.equal(h.sidecar.breakers.control.state, 'closed');
    assert.equal(h.sidecar.readiness().ready, true);
    assert.equal((await infer(1)).status, 200);
    const m = (await request(`${h.metricsUrl}/metrics`)).text;
    assert.equal(h.sidecar.breakers.control.trips, 0);
    assert.doesNotMatch(m, /paddle_breaker_trips_total\{/, 'no trip was counted');
    assert.match(m, /paddle_request_failures_total\{model="mlp",reason="over_budget"\} 21/);
  });
});
