import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SIDECAR_ROUTES, type SidecarRoute } from '../../../crds/src/pod-contract.js';
import { SidecarError } from '../../src/errors.js';
import { Router, routeLabel, type Method } from '../../src/rest/router.js';

const handlersFor = (routes: typeof SIDECAR_ROUTES): Record<string, Partial<Record<Method, string>>> =>
  Object.fromEntries(routes.map((r) => [r.path, Object.fromEntries(r.methods.map((m) => [m, `${m} ${r.path}`]))]));

describe('REST router: one route table (SIDECAR_ROUTES)', () => {
  const router = new Router(handlersFor(SIDECAR_ROUTES));

  it('serves every entry and alias of the table for its methods (HEAD as GET), and nothing else', () => {
    for (const r of SIDECAR_ROUTES) {
      for (const spelled of [r.path, ...('aliases' in r ? r.aliases : [])]) {
        const path = spelled.replace('{model}', 'mlp').replace('{version}', '1');
        for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
          const m = router.match(method, path);
          const served = (r.methods as readonly string[]).includes(method === 'HEAD' ? 'GET' : method);
          if (served) {
            assert.equal(m?.route, r, `${method} ${path}`);
            assert.equal(m?.handler, `${method === 'HEAD' ? 'GET' : method} ${r.path}`);
            assert.equal(m?.label, routeLabel(r.path));
          } else assert.equal(m, undefined, `${method} ${path}`);
        }
        assert.deepEqual(router.allowed(path), r.methods);
      }
    }
  });

  it('refuses to build when a table entry has no handler, or a handler no entry', () => {
    const h = handlersFor(SIDECAR_ROUTES);
    assert.throws(() => new Router({ ...h, '/v1/predict': {} }), /route POST \/v1\/predict has no handler/);
    assert.throws(() => new Router({ ...h, '/v1/predict': { POST: 'x', GET: 'y' } }), /handler GET \/v1\/predict is not in the route table/);
    assert.throws(() => new Router({ ...h, '/v1/extra': { GET: 'x' } }), /\/v1\/extra, which is not in the route table/);
  });

  it('parameters: model and version decoded; case-insensitive literals; one trailing slash; empty or malformed segments', () => {
    const m = router.match('POST', '/V2/Models/my%20model/Versions/1/INFER/');
    assert.equal(m?.route.path, '/v2/models/{model}/infer');
    assert.equal(m?.model, 'my model');
    assert.equal(m?.version, '1');
    assert.equal(m?.label, '/v2/models/:name/infer');
    assert.equal(router.match('POST', '/v2/models/..%2F..%2Fetc/infer')?.model, '../../etc', 'decoded, then refused by the model allow-list');
    assert.equal(router.match('POST', '/v2/models//infer'), undefined);
    assert.equal(router.match('POST', '/v2/models/mlp/infer//'), undefined);
    assert.equal(router.match('GET', '/v2/health/%6Cive'), undefined, 'literal segments are not decoded');
    assert.throws(
      () => router.match('POST', '/v2/models/%E0%A4%A/infer'),
      (e: unknown) => e instanceof SidecarError && e.httpStatus === 400 && e.message === 'malformed percent-escape in the path segment "%E0%A4%A"',
    );
    assert.equal(router.match('GET', 'v2'), undefined);
    assert.equal(router.match('GET', '/v2')?.route.path, '/v2');
  });

  it('any path: a match is always a table entry with one of its methods, or none (fuzz)', () => {
    const seg = fc.oneof(fc.constantFrom('v2', 'v1', 'models', 'mlp', 'infer', 'versions', '1', 'health', 'live', 'ready', 'config', 'predict', '', '%zz', '%41'), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 7 }), fc.constantFrom('GET', 'POST', 'HEAD', 'PUT'), (segs, method) => {
        let m;
        try {
          m = router.match(method, `/${segs.join('/')}`);
        } catch (e) {
          assert.ok(e instanceof SidecarError && e.httpStatus === 400);
          return;
        }
        if (m) assert.ok((SIDECAR_ROUTES as readonly SidecarRoute[]).includes(m.route) && (m.route.methods as readonly string[]).includes(method === 'HEAD' ? 'GET' : method));
      }),
      { numRuns: 2000 },
    );
  });
});
