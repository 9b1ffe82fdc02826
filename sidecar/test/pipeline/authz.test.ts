import assert from 'node:assert/strict';
import { DEFAULT_POLICIES } from '../../src/config.js';
import { SidecarError } from '../../src/errors.js';
import { Authz, policyTable } from '../../src/pipeline/authz.js';

describe('pipeline stage: authz (default-deny policy table, domain check)', () => {
  const is403 = (e: unknown, msg: RegExp): boolean => e instanceof SidecarError && e.httpStatus === 403 && msg.test(e.message);

  it('finds the policy of each protected route; a route without one is refused (default-deny)', () => {
    const z = new Authz(DEFAULT_POLICIES);
    assert.equal(z.policyFor('/v1/predict').domain, 'model_inference');
    assert.equal(z.policyFor('/v2/models/{model}/infer').domain, 'model_inference');
    z.setPolicies(DEFAULT_POLICIES.filter((p) => p.path !== '/v1/export_model'));
    assert.throws(() => z.policyFor('/v1/export_model'), (e: unknown) => is403(e, /no policy guards \/v1\/export_model: refused \(default-deny\)/));
  });

  it('the table keeps only protected routes (a dead policy guards nothing)', () => {
    const t = policyTable([...DEFAULT_POLICIES, { path: '/v2/health/live', domain: 'x', callsPerMinute: 1 }]);
    assert.ok(!t.has('/v2/health/live'));
    assert.equal(t.size, new Set(DEFAULT_POLICIES.map((p) => p.path)).size);
  });

  it('a principal without the policy domain is refused when auth is enforced, passes when it is off', () => {
    const z = new Authz(DEFAULT_POLICIES);
    const policy = z.policyFor('/v1/predict');
    const admin = { subject: 's', domains: new Set(['model_admin']) };
    assert.throws(() => z.check(admin, policy, true), (e: unknown) => is403(e, /^insufficient permissions$/));
    z.check(admin, policy, false);
    z.check({ subject: 's', domains: new Set(['model_inference']) }, policy, true);
  });
});
