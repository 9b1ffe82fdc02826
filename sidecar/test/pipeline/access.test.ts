import assert from 'node:assert/strict';
import { DEFAULT_POLICIES } from '../../src/config.js';
import { SidecarError } from '../../src/errors.js';
import { Access } from '../../src/pipeline/access.js';
import { Authn } from '../../src/pipeline/authn.js';
import { Authz } from '../../src/pipeline/authz.js';
import { CallContext } from '../../src/pipeline/context.js';
import { RateGate } from '../../src/pipeline/rate-limit.js';
import { RateLimiter } from '../../src/rate-limiter.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { kit } from './kit.js';

describe('pipeline stages 3-5 together: authn -> authz -> rate limit -> canary group', () => {
  it('records the policy, domain and principal on the call; re-assigns a provisional group by subject; rate limits per subject', async () => {
    const k = kit({ canary: { treatmentPercent: 100 }, auth: { enabled: false, policies: DEFAULT_POLICIES.map((p) => ({ ...p, callsPerMinute: 1 })) } });
    const config = () => k.config;
    const access = new Access(await Authn.create(k.config.auth, { log: k.loggers.event }), new Authz(k.config.auth.policies), new RateGate(new RateLimiter(100, new ManualClock()), k.metrics.rateLimited), config);
    const ctx = new CallContext(k.tracer, config);
    const call = ctx.open('POST', '/v1/predict', {}, '10.0.0.7');
    assert.equal(access.authorize(call, '/v1/predict', undefined, undefined, '10.0.0.7'), undefined, 'synchronous with auth off');
    assert.equal(call.policyPath, '/v1/predict');
    assert.equal(call.domain, 'model_inference');
    assert.equal(call.principal?.subject, 'ip:10.0.0.7');
    assert.equal(call.group, 'treatment', '100 % treatment by subject');
    const explicit = ctx.open('POST', '/v1/predict', { 'x-test-group': 'control' }, '10.0.0.8');
    access.authorize(explicit, '/v1/predict', undefined, undefined, '10.0.0.8');
    assert.equal(explicit.group, 'control', 'an explicit header is never re-assigned');
    const again = ctx.open('POST', '/v1/predict', {}, '10.0.0.7');
    assert.throws(() => access.authorize(again, '/v1/predict', undefined, undefined, '10.0.0.7'), (e: unknown) => e instanceof SidecarError && e.httpStatus === 429);
    assert.equal(again.principal?.subject, 'ip:10.0.0.7', 'the refused caller is known (audit subject)');
  });

  it('a path without a policy is refused before any token is read', async () => {
    const k = kit();
    const config = () => k.config;
    const access = new Access(await Authn.create(k.config.auth, { log: k.loggers.event }), new Authz([]), new RateGate(new RateLimiter(10, new ManualClock()), k.metrics.rateLimited), config);
    const call = new CallContext(k.tracer, config).open('POST', '/v1/predict', {}, undefined);
    assert.throws(() => access.authorize(call, '/v1/predict', undefined, undefined, undefined), (e: unknown) => e instanceof SidecarError && e.httpStatus === 403);
    assert.equal(call.principal, undefined);
  });
});
