import assert from 'node:assert/strict';
import { createBreakers } from '../src/pipeline/breaker-gate.js';
import type { PredictorLike } from '../src/predictor.js';
import { Readiness } from '../src/readiness.js';
import { ManualClock } from './helpers/manual-clock.js';
import { InProcessMlp } from './helpers/predictors.js';
import { kit, metricValue } from './pipeline/kit.js';

describe('readiness and the self-check', () => {
  const setup = (predictor: PredictorLike, verified = true, allowUnverified = false) => {
    const k = kit();
    const clock = new ManualClock();
    const r = new Readiness({ info: { verified }, allowUnverified, active: () => ({ predictor, device: 'cpu' }), mode: () => 'normal', modelName: () => 'mlp', metrics: k.metrics, log: k.loggers.event, clock });
    const breakers = createBreakers({ config: k.config.breaker, clock, probe: () => r.selfCheck(), metrics: k.metrics, log: k.loggers.event, onChange: () => r.publish() });
    r.attach(breakers);
    return { k, r, breakers };
  };

  it('is ready after a passing self-check, not before; an open control breaker makes it unready', async () => {
    const { k, r, breakers } = setup(new InProcessMlp());
    assert.deepEqual(r.state(), { ready: false, reason: 'self-check failed: self-check has not run' });
    assert.equal((await r.selfCheck()).ok, true);
    assert.equal(r.state().ready, true);
    assert.equal(await metricValue(k, 'paddle_model_ready'), 1);
    assert.equal(r.answer().status, 200);
    breakers.control.trip('test');
    assert.deepEqual(r.state(), { ready: false, reason: 'circuit breaker open' });
    assert.equal(await metricValue(k, 'paddle_model_ready'), 0);
    const a = r.answer();
    assert.equal(a.status, 503);
    assert.match(String((a.body as { error: string }).error), /not ready: circuit breaker open/);
    breakers.stop();
  });

  it('drain (SIGTERM): not ready from then on with the reason, whatever the self-check says', async () => {
    const { k, r, breakers } = setup(new InProcessMlp());
    assert.equal((await r.selfCheck()).ok, true);
    assert.equal(r.state().ready, true);
    r.drain('shutting down (SIGTERM)');
    assert.deepEqual(r.state(), { ready: false, reason: 'shutting down (SIGTERM)' });
    assert.equal(await metricValue(k, 'paddle_model_ready'), 0);
    assert.equal((await r.selfCheck()).ok, true);
    assert.equal(r.answer().status, 503, 'a passing self-check does not make a draining pod ready again');
    breakers.stop();
  });

  it('a failing self-check says why; concurrent checks share one run; an unverified model is never ready unless allowed', async () => {
    const p = new InProcessMlp();
    p.inputs = () => [{ name: 'x', dtype: 'float32', shape: [-1, 63] }];
    const { r } = setup(p);
    const [a, b] = [r.selfCheck(), r.selfCheck()];
    assert.equal(a, b);
    const res = await a;
    assert.equal(res.ok, false);
    assert.match(res.error ?? '', /float32 \[-1, 64\]/);
    assert.match(r.state().reason, /^self-check failed: /);
    const unverified = setup(new InProcessMlp(), false).r;
    await unverified.selfCheck();
    assert.deepEqual(unverified.state(), { ready: false, reason: 'model signature not verified' });
    const allowed = setup(new InProcessMlp(), false, true).r;
    await allowed.selfCheck();
    assert.equal(allowed.state().ready, true);
  });
});
