import assert from 'node:assert/strict';
import { SidecarError } from '../../src/errors.js';
import { RateGate } from '../../src/pipeline/rate-limit.js';
import { RateLimiter } from '../../src/rate-limiter.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { kit, metricValue } from './kit.js';

describe('pipeline stage: rate limit', () => {
  const policy = { path: '/v1/predict', domain: 'model_inference', callsPerMinute: 4 };

  it("takes calls up to the pod's share of the policy, then 429 + Retry-After, counted per domain", async () => {
    const k = kit();
    const gate = new RateGate(new RateLimiter(100, new ManualClock()), k.metrics.rateLimited);
    gate.take('alice', policy, 0.5); // 4 x 0.5 = 2 per minute
    gate.take('alice', policy, 0.5);
    assert.throws(
      () => gate.take('alice', policy, 0.5),
      (e: unknown) => e instanceof SidecarError && e.httpStatus === 429 && (e.retryAfterSeconds ?? 0) >= 1 && /4 calls per minute exceeded for model_inference/.test(e.message),
    );
    gate.take('bob', policy, 0.5); // another subject: its own bucket
    assert.equal(await metricValue(k, 'paddle_rate_limited_total', { domain: 'model_inference' }), 1);
  });
});
