// The REST front end (rest/front-end.ts over the one router) on a table of requests: status,
// the echoed request id, the W3C trace context (the caller's trace continued, tracestate passed
// on), and the access-log record, for the hot inference paths, their odd spellings (the router
// matches as express did: case-insensitive literals, escaped parameters decoded, so a traversal
// attempt reaches the model allow-list and is a 404), every refusal of the chain (400, 401, 403,
// 404, 413, 415, 429, 503), CORS, a preflight, and a shed and an open breaker.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { ResourceSample } from '../src/degradation.js';
import { deadLetters, MODEL, mlpBody, startHarness, validLogLines, type Harness } from './helpers/harness.js';
import { request, type TestResponse } from './helpers/http.js';
import { loadMlpPredictor } from './helpers/predictors.js';
import { until } from './helpers/until.js';

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
}

describe('REST front end: one router, the whole chain', function () {
  this.timeout(120000);
  let h: Harness;
  let sample: ResourceSample = { cpu: 0.1, gpu: undefined, cpuSource: 'process' };

  before(async () => {
    h = await startHarness({
      predictor: await loadMlpPredictor(),
      tls: 'none',
      config: { canary: { envId: 'stable' } },
      deps: { resourceSampler: () => sample },
    });
  });
  after(async () => {
    await h.close();
    assert.deepEqual(deadLetters, []);
  });

  const bearer = (scope: string) => async (side: string) => ({ authorization: `Bearer ${await h.token(scope, { sub: `${side}-${scope}-${Math.random()}` })}` });
  const cases: Case[] = [
    { name: 'predict ok', path: '/v1/predict', body: mlpBody(1), headers: bearer('model_inference'), status: 200 },
    { name: 'predict ok with a query string', path: '/v1/predict?x=1', body: mlpBody(1), headers: bearer('model_inference'), status: 200 },
    {
      name: 'infer ok, dyed, with a parent trace',
      path: `/v2/models/${MODEL}/infer`,
      body: mlpBody(2, { id: 'q-1' }),
      headers: async (side) => ({
        ...(await bearer('model_inference')(side)),
        'x-env-id': 'gray-v2',
        'x-test-group': 'TREATMENT',
        traceparent: '00-5ca03e4688c45eb7b4df03a1f1f15847-00f067aa0ba902b7-01',
      }),
      status: 200,
    },
    {
      name: 'infer ok with a parent trace and tracestate',
      path: `/v2/models/${MODEL}/infer`,
      body: mlpBody(1),
      headers: async (side) => ({
        ...(await bearer('model_inference')(side)),
        traceparent: '00-5ca03e4688c45eb7b4df03a1f1f15847-00f067aa0ba902b7-01',
        tracestate: 'vendor=abc,other=x1',
      }),
      status: 200,
    },
    { name: 'versioned infer ok', path: `/v2/models/${MODEL}/versions/1/infer`, body: mlpBody(1), headers: bearer('model_inference'), status: 200 },
    { name: 'unknown version', path: `/v2/models/${MODEL}/versions/2/infer`, body: mlpBody(1), headers: bearer('model_inference'), status: 404 },
    { name: 'other model', path: '/v2/models/resnet/infer', body: mlpBody(1), headers: bearer('model_inference'), status: 404 },
    { name: 'traversal (escaped)', path: '/v2/models/..%2F..%2Fetc%2Fpasswd/infer', body: mlpBody(1), headers: bearer('model_inference'), status: 404 },
    { name: 'upper-case path', path: '/V1/PREDICT', body: mlpBody(1), headers: bearer('model_inference'), status: 200 },
    { name: 'no token', path: '/v1/predict', body: mlpBody(1), status: 401 },
    { name: 'wrong domain', path: `/v2/models/${MODEL}/infer`, body: mlpBody(1), headers: bearer('model_admin'), status: 403 },
    { name: 'rate limited', path: '/v1/predict', body: mlpBody(1), headers: bearer('model_inference'), repeat: 3, status: 429 },
    { name: 'malformed JSON', path: '/v1/predict', rawBody: '{"inputs": [', headers: bearer('model_inference'), status: 400 },
    { name: 'scalar JSON', path: '/v1/predict', rawBody: '42', headers: bearer('model_inference'), status: 400 },
    { name: 'bad tensor', path: `/v2/models/${MODEL}/infer`, body: { inputs: [{ name: 'x', shape: [1, 63], datatype: 'FP32', data: [] }] }, headers: bearer('model_inference'), status: 400 },
    { name: 'model_name mismatch', path: '/v1/predict', body: { ...mlpBody(1), model_name: 'other' }, headers: bearer('model_inference'), status: 404 },
    {
      name: 'declared body over the limit',
      path: '/v1/predict',
      rawBody: JSON.stringify({ pad: 'x'.repeat(1100 * 1024) }),
      headers: async (side) => ({ ...(await bearer('model_inference')(side)), 'content-length': String(1100 * 1024 + 10) }),
      status: 413,
    },
    { name: 'gzip body', path: '/v1/predict', rawBody: '{}', headers: async (side) => ({ ...(await bearer('model_inference')(side)), 'content-encoding': 'gzip' }), status: 415 },
    // Content codings are case-insensitive (RFC 9110 8.4.1): identity in any case is no coding.
    { name: 'identity coding, upper case', path: '/v1/predict', body: mlpBody(1), headers: async (side) => ({ ...(await bearer('model_inference')(side)), 'content-encoding': 'IDENTITY' }), status: 200 },
    { name: 'listed origin', path: '/v1/predict', body: mlpBody(1), headers: async (side) => ({ ...(await bearer('model_inference')(side)), origin: 'https://console.example.com' }), status: 200 },
    { name: 'unlisted origin', path: '/v1/predict', body: mlpBody(1), headers: async (side) => ({ ...(await bearer('model_inference')(side)), origin: 'https://evil.example.com' }), status: 403 },
    { name: 'preflight', method: 'OPTIONS', path: '/v1/predict', headers: async () => ({ origin: 'https://console.example.com', 'access-control-request-method': 'POST' }), status: 204 },
    { name: 'live', path: '/v2/health/live', status: 200 },
    { name: 'ready', path: '/v2/health/ready', status: 200 },
    { name: 'live, unlisted origin', path: '/v2/health/live', headers: async () => ({ origin: 'https://evil.example.com' }), status: 403 },
    { name: 'unknown path', path: '/v2/healthz', status: 404 },
    { name: 'GET on the infer path', path: `/v2/models/${MODEL}/infer`, status: 404 },
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

  const check = async (c: Case): Promise<void> => {
    const x = await send(h.url, 'rest', c);
    assert.equal(x.r.status, c.status, `${c.name}: ${x.r.text}`);
    if (c.status >= 400) assert.match(String((JSON.parse(x.r.text || '{}') as { error?: unknown }).error ?? (c.status === 204 ? '' : 'missing')), /./, `${c.name}: error body`);
    assert.equal(x.r.headers['x-request-id'], x.requestId, `${c.name}: request id echoed`);
    assert.match(String(x.r.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    if (x.parentTraceId) assert.equal(String(x.r.headers.traceparent).split('-')[1], x.parentTraceId, `${c.name}: the caller's trace continues`);
    assert.equal(x.r.headers.tracestate, x.traceState, `${c.name}: tracestate passed on`);
    if (c.status === 429 || c.status === 503) assert.match(String(x.r.headers['retry-after']), /^\d+$/, `${c.name}: Retry-After`);
    await new Promise((r) => setImmediate(r));
    const line = accessLine(x.requestId);
    assert.equal(line.status, c.status, `${c.name}: access status`);
  };

  it('a table of requests: status, request id, trace context and access line', async () => {
    await h.sidecar.applyConfig({ ...h.sidecar.config(), auth: { ...h.sidecar.config().auth, policies: h.sidecar.config().auth.policies.map((p) => (p.path === '/v1/predict' ? { ...p, callsPerMinute: 3 } : p)) } });
    for (const c of cases) await check(c);
  });

  it('degradation shed and an open breaker: 503 + Retry-After, audited', async () => {
    sample = { cpu: 0.99, gpu: undefined, cpuSource: 'process' };
    assert.equal(h.sidecar.sampleResources(), 'shed');
    const shed: Case = { name: 'shed', path: '/v1/predict', body: mlpBody(1), headers: bearer('model_inference'), status: 503 };
    await check(shed);
    sample = { cpu: 0.1, gpu: undefined, cpuSource: 'process' };
    assert.equal(h.sidecar.sampleResources(), 'normal');
    h.sidecar.breakers.treatment.trip('test');
    const open: Case = {
      name: 'treatment breaker open',
      path: `/v2/models/${MODEL}/infer`,
      body: mlpBody(1),
      headers: async (side) => ({ ...(await bearer('model_inference')(side)), 'x-test-group': 'treatment' }),
      status: 503,
    };
    await check(open);
    const audits = h.audits.filter((a) => a.status === 503);
    assert.ok(audits.length >= 2 && audits.every((a) => a.reason === 'shed' || (a.reason === 'breaker_open' && a.group === 'treatment')), JSON.stringify(audits));
  });

  it('a guarded route refuses a caller without a valid token from its headers, before reading its body', async () => {
    // Headers announcing a 900 kB body of which nothing is sent: the refusal cannot wait for it
    // (with the body read first, the server waited for bytes that never came, then parsed them).
    const ask = (authorization: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: h.port });
        // A safety net, not a timing: without it a server that waits for the body would hold the socket until mocha's timeout.
        const stuck = setTimeout(() => {
          s.destroy();
          reject(new Error('no answer while the body was not sent'));
        }, 30_000);
        let seen = '';
        s.on('data', (d: Buffer) => {
          seen += d.toString('latin1');
          if (seen.includes('\r\n\r\n') && seen.includes('}')) {
            clearTimeout(stuck);
            s.destroy();
            resolve(seen);
          }
        });
        s.on('error', reject);
        s.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: localhost\r\n${authorization}content-type: application/json\r\ncontent-length: 900000\r\n\r\n`);
      });
    const none = await ask('');
    assert.match(none, /^HTTP\/1\.1 401 /);
    assert.match(none, /bearer token/i);
    const forged = await ask('authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA\r\n');
    assert.match(forged, /^HTTP\/1\.1 401 /);
    const scope = await ask(`authorization: ${(await bearer('data_protection')('wrong scope'))['authorization']}\r\n`);
    assert.match(scope, /^HTTP\/1\.1 403 /);
    assert.match(scope, /insufficient permissions/);
  });

  it('answers Expect: 100-continue only after the token check: a refused caller never sends its body', async () => {
    // One exchange on a raw socket: headers with Expect, then the body only once 100 came.
    const exchange = async (authorization: string): Promise<{ first: string; all: string }> => {
      const body = JSON.stringify(mlpBody(1));
      const s = connect({ host: '127.0.0.1', port: h.port });
      let seen = '';
      let sent = false;
      s.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        if (!sent && seen.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
          sent = true;
          s.write(body);
        }
      });
      s.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: localhost\r\n${authorization}content-type: application/json\r\nexpect: 100-continue\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`);
      try {
        await until('a final answer', () => /\r\n\r\n[\s\S]*\}$/.test(seen.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '')));
      } finally {
        s.destroy();
      }
      return { first: seen.slice(0, seen.indexOf('\r\n')), all: seen };
    };
    const refused = await exchange('');
    assert.equal(refused.first, 'HTTP/1.1 401 Unauthorized', refused.all);
    assert.doesNotMatch(refused.all, /100 Continue/);
    const ok = await exchange(`authorization: ${(await bearer('model_inference')('expect'))['authorization']}\r\n`);
    assert.equal(ok.first, 'HTTP/1.1 100 Continue', ok.all);
    assert.match(ok.all, /HTTP\/1\.1 200 OK[\s\S]*"outputs"/);
    // HTTP/1.0 has no 100 Continue: a 1.0 client that sends Expect with its body gets the answer alone.
    const body = JSON.stringify(mlpBody(1));
    const s = connect({ host: '127.0.0.1', port: h.port });
    let seen = '';
    s.on('data', (d: Buffer) => void (seen += d.toString('latin1')));
    const token = (await bearer('model_inference')('expect-1.0'))['authorization'];
    s.write(`POST /v2/models/${MODEL}/infer HTTP/1.0\r\nhost: localhost\r\nauthorization: ${token}\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    try {
      await until('the HTTP/1.0 answer', () => seen.includes('"outputs"'));
    } finally {
      s.destroy();
    }
    assert.match(seen, /^HTTP\/1\.1 200 OK/);
    assert.doesNotMatch(seen, /100 Continue/);
  });
});
