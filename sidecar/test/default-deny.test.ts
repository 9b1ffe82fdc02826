// Default-deny authorization: every route of the serving port is public by design (health,
// metadata) or guarded by a policy. A config that leaves a protected route without a policy is
// refused with a message naming the route, a policy for a path that is no protected route (a
// dead policy, e.g. the OIP path spelled with the model's name) is refused too, and the route
// table the checks read is the app's real one (every express route is in it, every entry is
// answered).

import assert from 'node:assert/strict';
import { PROTECTED_PATHS, SIDECAR_ROUTES } from '../../crds/src/pod-contract.js';
import { DEFAULT_POLICIES, parseSidecarConfig } from '../src/config.js';
import { policyTable } from '../src/pipeline/authz.js';
import { MODEL, mlpBody, pki, startHarness, type Harness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { InProcessMlp, MLP_DIR } from './helpers/predictors.js';

const HMAC = { enabled: true, hmacSecretFile: '/etc/paddle/auth/hmac.key' };
const configWith = (policies: unknown): string => JSON.stringify({ version: 1, model: { name: 'm' }, auth: { ...HMAC, policies } });
const without = (path: string) => DEFAULT_POLICIES.filter((p) => p.path !== path);

describe('default-deny authorization', () => {
  describe('the config loader', () => {
    for (const path of PROTECTED_PATHS) {
      it(`refuses a policies list without ${path}, naming the route`, () => {
        const r = parseSidecarConfig(configWith(without(path)));
        assert.equal(r.ok, false);
        assert.ok(!r.ok && r.error.includes(`has no policy for ${path}`), JSON.stringify(r));
      });
    }

    it('refuses an empty policies list (auth on or off), naming the first protected route', () => {
      for (const enabled of [true, false]) {
        const r = parseSidecarConfig(JSON.stringify({ version: 1, model: { name: 'm' }, auth: { ...HMAC, enabled, policies: [] } }));
        assert.ok(!r.ok && r.error.includes(`has no policy for ${PROTECTED_PATHS[0] ?? ''}`), JSON.stringify(r));
      }
    });

    it('refuses a dead policy: the OIP path spelled with the model name, a public route, a typo', () => {
      for (const dead of ['/v2/models/m/infer', '/v2/health/live', '/v1/predcit', '/v2/models/{model}/versions/{version}/infer']) {
        const r = parseSidecarConfig(configWith([...DEFAULT_POLICIES, { path: dead, domain: 'model_inference', callsPerMinute: 5 }]));
        assert.ok(!r.ok && r.error.includes(`"${dead}" is not a protected route`), `${dead}: ${JSON.stringify(r)}`);
      }
    });

    it('accepts the default table and fills it when the list is absent', () => {
      assert.ok(parseSidecarConfig(configWith(DEFAULT_POLICIES)).ok);
      const r = parseSidecarConfig(JSON.stringify({ version: 1, model: { name: 'm' }, auth: HMAC }));
      assert.ok(r.ok);
      assert.deepEqual(r.ok && r.config.auth.policies.map((p) => p.path), [...PROTECTED_PATHS]);
    });

    it('the policy table holds exactly the protected routes', () => {
      assert.deepEqual([...policyTable(DEFAULT_POLICIES).keys()], [...PROTECTED_PATHS]);
    });
  });

  describe('the route table is the app\'s', function () {
    this.timeout(120000);
    let h: Harness;
    before(async () => {
      h = await startHarness({ predictor: new InProcessMlp(), modelDir: MLP_DIR });
    });
    after(async () => {
      await h.close();
    });

    it('the serving router serves exactly SIDECAR_ROUTES: every entry, alias and method, nothing else', () => {
      const router = h.sidecar.rest.router;
      const concrete = (p: string): string => p.replace('{model}', MODEL).replace('{version}', '1');
      for (const r of SIDECAR_ROUTES) {
        for (const p of [r.path, ...('aliases' in r ? r.aliases : [])]) {
          for (const method of ['GET', 'POST']) {
            const m = router.match(method, concrete(p));
            if ((r.methods as readonly string[]).includes(method)) assert.equal(m?.route.path, r.path, `${method} ${p}`);
            else assert.equal(m, undefined, `${method} ${p} is not in the table`);
          }
        }
      }
      assert.equal(router.routes, SIDECAR_ROUTES);
    });

    it('every protected route refuses a caller without a token (401); every public one answers without', async () => {
      const ca = pki().caCert;
      const concrete = (p: string): string => p.replace('{model}', MODEL).replace('{version}', '1');
      for (const r of SIDECAR_ROUTES) {
        for (const method of r.methods) {
          const res = await request(`${h.url}${concrete(r.path)}`, { ca, method, ...(method === 'POST' ? { body: mlpBody() } : {}) });
          if (r.access === 'policy') assert.equal(res.status, 401, `${method} ${r.path}: ${res.text}`);
          else assert.ok(res.status === 200, `${method} ${r.path}: ${res.status} ${res.text}`);
        }
      }
    });
  });
});
