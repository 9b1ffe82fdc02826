// The lean dispatcher (SidecarApp.handler) and the express app (SidecarApp.app) must answer the
// same requests identically: status, body, headers, and the access-log/audit records. One
// sidecar, two plain-HTTP servers in front of it (one per path), the same request table sent to
// both; every case uses its own token subject per side so rate-limit buckets do not interact.

import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import type { ResourceSample } from '../src/degradation.js';
import { createSidecarServer, type RunningServer } from '../src/server.js';
import { deadLetters, MODEL, mlpBody, startHarness, validLogLines, type Harness } from './helpers/harness.js';
import { request, type TestResponse } from './helpers/http.js';
import { loadMlpPredictor } from './helpers/predictors.js';

interface Case {
  name: string;
  method?: string;
  path: string;
  headers?: (side: string) => Promise<Record<string, string>>;
  body?: unknown;
  rawBody?: string;
  /** Requests sent before the compared one (same subject): e.g. to exhaust a rate limit. */
  repeat?: number;
  status: number;
  /** The dispatcher takes this request (false: it goes to express on both servers). */
  fast: boolean;
}

// Headers that legitimately differ per request; traceparent is compared less its span id, which
// is new every time (its trace id is the caller's, or new when there was no parent).
const VOLATILE = new Set(['date', 'connection', 'keep-alive']);

function comparable(h: IncomingHttpHeaders, parentTraceId: string | undefined): Record<string, unknown> {
  const tp = String(h.traceparent ?? '').split('-');
  assert.equal(tp.length, 4, `traceparent ${String(h.traceparent)}`);
  const kept = { ...h, traceparent: `${tp[0]}-${parentTraceId ? tp[1] : '(new)'}-(span)-${tp[3]}` };
  return Object.fromEntries(Object.entries(kept).filter(([k]) => !VOLATILE.has(k)).sort(([a], [b]) => a.localeCompare(b)));
}

describe('fast dispatcher vs express: identical answers', function () {
  this.timeout(30000);
  let h: Harness;
  let expressOnly: RunningServer;
  let expressUrl = '';
  let sample: ResourceSample = { cpu: 0.1, gpu: undefined, cpuSource: 'process' };

  before(async () => {
    h = await startHarness({
      predictor: await loadMlpPredictor(),
      tls: 'none',
      config: { canary: { envId: 'stable' } },
      deps: { resourceSampler: () => sample },
    });
    expressOnly = createSidecarServer({ handler: h.sidecar.app });
    expressUrl = `http://127.0.0.1:${await expressOnly.listen(0, '127.0.0.1')}`;
  });
  after(async () => {
    await expressOnly.close();
    await h.close();
    assert.deepEqual(deadLetters, []);
  });

  const bearer = (scope: string) => async (side: string) => ({ authorization: `Bearer ${await h.token(scope, { sub: `${side}-${scope}-${Math.random()}` })}` });
  const cases: Case[] = [
    { name: 'predict ok', path: '/v1/predict', body: mlpBody(1), headers: bearer('model_inference'), status: 200, fast: true },
    { name: 'predict ok with a query string', path: '/v1/predict?x=1', body: mlpBody(1), headers: bearer('model_inference'), status: 200, fast: true },
    {
      name: 'infer ok, dyed, with a parent trace',
      path: `/v2/models/${MODEL}/infer`,
      body: mlpBody(2, { id: 'q-1' }),
      headers: async (side) => ({
        ...(await bearer('model_inference')(side)),
        'x-env-id': 'gray-v2',
        'x-test-group': 'TREATMENT',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      }),
      status: 200,
      fast: true,
    },
    {
      name: 'infer ok with a parent trace and tracestate',
      path: `/v2/models/${MODEL}/infer`,
      body: mlpBody(1),
      headers: async (side) => ({
        ...(await bearer('model_inference')(side)),
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'vendor=abc,other=x1',
      }),
      status: 200,
      fast: true,
    },
    { name: 'versioned infer ok', path: `/v2/models/${MODEL}/versions/1/infer`, body: mlpBody(1), headers: bearer('model_inference'), status: 200, fast: true },
    { name: 'unknown version', path: `/v2/models/${MODEL}/versions/2/infer`, body: mlpBody(1), headers: bearer('model_inference'), status: 404, fast: true },
    { name: 'other model', path: '/v2/models/resnet/infer', body: mlpBody(1), headers: bearer('model_inference'), status: 404, fast: true },
    { name: 'traversal (escaped)', path: '/v2/models/..%2F..%2Fetc%2Fpasswd/infer', body: mlpBody(1), headers: bearer('model_inference'), status: 404, fast: false },
    { name: 'upper-case path', path: '/V1/PREDICT', body: mlpBody(1), headers: bearer('model_inference'), status: 200, fast: false },
    { name: 'no token', path: '/v1/predict', body: mlpBody(1), status: 401, fast: true },
    { name: 'wrong domain', path: `/v2/models/${MODEL}/infer`, body: mlpBody(1), headers: bearer('model_admin'), status: 403, fast: true },
    { name: 'rate limited', path: '/v1/predict', body: mlpBody(1), headers: bearer('model_inference'), repeat: 3, status: 429, fast: true },
    { name: 'malformed JSON', path: '/v1/predict', rawBody: '{"inputs": [', headers: bearer('model_inference'), status: 400, fast: true },
    { name: 'scalar JSON', path: '/v1/predict', rawBody: '42', headers: bearer('model_inference'), status: 400, fast: true },
    { name: 'bad tensor', path: `/v2/models/${MODEL}/infer`, body: { inputs: [{ name: 'x', shape: [1, 63], datatype: 'FP32', data: [] }] }, headers: bearer('model_inference'), status: 400, fast: true },
    { name: 'model_name mismatch', path: '/v1/predict', body: { ...mlpBody(1), model_name: 'other' }, headers: bearer('model_inference'), status: 404, fast: true },
    {
      name: 'declared body over the limit',
      path: '/v1/predict',
      rawBody: JSON.stringify({ pad: 'x'.repeat(1100 * 1024) }),
      headers: async (side) => ({ ...(await bearer('model_inference')(side)), 'content-length': String(1100 * 1024 + 10) }),
      status: 413,
      fast: true,
    },
    { name: 'gzip body', path: '/v1/predict', rawBody: '{}', headers: async (side) => ({ ...(await bearer('model_inference')(side)), 'content-encoding': 'gzip' }), status: 415, fast: true },
    { name: 'listed origin', path: '/v1/predict', body: mlpBody(1), headers: async (side) => ({ ...(await bearer('model_inference')(side)), origin: 'https://console.example.com' }), status: 200, fast: true },
    { name: 'unlisted origin', path: '/v1/predict', body: mlpBody(1), headers: async (side) => ({ ...(await bearer('model_inference')(side)), origin: 'https://evil.example.com' }), status: 403, fast: true },
    { name: 'preflight', method: 'OPTIONS', path: '/v1/predict', headers: async () => ({ origin: 'https://console.example.com', 'access-control-request-method': 'POST' }), status: 204, fast: false },
    { name: 'live', path: '/v2/health/live', status: 200, fast: true },
    { name: 'ready', path: '/v2/health/ready', status: 200, fast: true },
    { name: 'live, unlisted origin', path: '/v2/health/live', headers: async () => ({ origin: 'https://evil.example.com' }), status: 403, fast: true },
    { name: 'unknown path', path: '/v2/healthz', status: 404, fast: false },
    { name: 'GET on the infer path', path: `/v2/models/${MODEL}/infer`, status: 404, fast: false },
  ];

  let seq = 0;
  const send = async (base: string, side: string, c: Case): Promise<{ r: TestResponse; requestId: string; parentTraceId: string | undefined; traceState: string | undefined }> => {
    const headers: Record<string, string> = { ...(c.headers ? await c.headers(side) : {}) };
    let r: TestResponse | undefined;
    let requestId = '';
    for (let i = 0; i <= (c.repeat ?? 0); i++) {
      requestId = `${side}-${++seq}`;
      r = await request(`${base}${c.path}`, {
        headers: { ...headers, 'x-request-id': requestId },
        ...(c.method ? { method: c.method } : {}),
        ...(c.rawBody !== undefined ? { rawBody: c.rawBody } : c.body !== undefined ? { body: c.body } : {}),
      });
    }
    assert.ok(r);
    return { r, requestId, parentTraceId: headers.traceparent?.split('-')[1], traceState: headers.tracestate };
  };
  const accessLine = (requestId: string): Record<string, unknown> => {
    const line = validLogLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['@log.kind'] === 'access' && l.request_id === requestId);
    assert.ok(line, `access line for ${requestId}`);
    const { path, status, method, env_id, test_group, '@error.cause': cause } = line;
    return { path, status, method, env_id, test_group, cause };
  };

  const compare = async (c: Case): Promise<void> => {
    const before = { ...h.sidecar.dispatched };
    const fast = await send(h.url, 'fast', c);
    const taken = h.sidecar.dispatched.fast - before.fast;
    const slow = await send(expressUrl, 'express', c);
    assert.equal(taken > 0, c.fast, `${c.name}: dispatcher took it`);
    assert.equal(fast.r.status, c.status, `${c.name}: ${fast.r.text}`);
    assert.equal(slow.r.status, fast.r.status, c.name);
    assert.equal(slow.r.text, fast.r.text, `${c.name}: body`);
    const norm = (x: { r: TestResponse; requestId: string; parentTraceId: string | undefined; traceState: string | undefined }, side: string): Record<string, unknown> => {
      if (x.parentTraceId) assert.equal(String(x.r.headers.traceparent).split('-')[1], x.parentTraceId, `${c.name}: the caller's trace continues`);
      assert.equal(x.r.headers.tracestate, x.traceState, `${c.name}: tracestate passed on`);
      const hd = comparable(x.r.headers, x.parentTraceId);
      if (hd['x-request-id'] === x.requestId) hd['x-request-id'] = `${side}-<id>`;
      return hd;
    };
    assert.deepEqual(norm(slow, 'side'), norm(fast, 'side'), `${c.name}: headers`);
    assert.match(String(fast.r.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(accessLine(slow.requestId), accessLine(fast.requestId), `${c.name}: access log`);
  };

  it('the same table of requests gives the same status, body, headers and access log', async () => {
    await h.sidecar.applyConfig({ ...h.sidecar.config(), auth: { ...h.sidecar.config().auth, policies: h.sidecar.config().auth.policies.map((p) => (p.path === '/v1/predict' ? { ...p, callsPerMinute: 3 } : p)) } });
    for (const c of cases) await compare(c);
  });

  it('degradation shed and an open breaker: the same 503 + Retry-After on both', async () => {
    sample = { cpu: 0.99, gpu: undefined, cpuSource: 'process' };
    assert.equal(h.sidecar.sampleResources(), 'shed');
    const shed: Case = { name: 'shed', path: '/v1/predict', body: mlpBody(1), headers: bearer('model_inference'), status: 503, fast: true };
    await compare(shed);
    sample = { cpu: 0.1, gpu: undefined, cpuSource: 'process' };
    assert.equal(h.sidecar.sampleResources(), 'normal');
    h.sidecar.breakers.treatment.trip('test');
    const open: Case = {
      name: 'treatment breaker open',
      path: `/v2/models/${MODEL}/infer`,
      body: mlpBody(1),
      headers: async (side) => ({ ...(await bearer('model_inference')(side)), 'x-test-group': 'treatment' }),
      status: 503,
      fast: true,
    };
    await compare(open);
    const audits = h.audits.filter((a) => a.status === 503);
    assert.ok(audits.length >= 4 && audits.every((a) => a.reason === 'shed' || (a.reason === 'breaker_open' && a.group === 'treatment')), JSON.stringify(audits));
  });
});
