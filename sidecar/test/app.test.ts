// The in-process sidecar over real HTTPS: every endpoint, the refusal paths, CORS, traversal,
// encryption round trip, export, traces and metrics. Logs of the whole file must pass the schema.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deadLetters, MODEL, mlpBody, pki, startHarness, validLogLines, type Harness } from './helpers/harness.js';
import { request, type TestResponse } from './helpers/http.js';
import { loadMlpPredictor, MLP_DIR, MLP_OUTPUT } from './helpers/predictors.js';
import { validateLogRecord } from '../src/logging.js';

describe('sidecar app over HTTPS', function () {
  this.timeout(120000);
  let h: Harness;
  const ca = (): string => pki().caCert;
  const get = (path: string, headers: Record<string, string> = {}): Promise<TestResponse> => request(`${h.url}${path}`, { ca: ca(), headers });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<TestResponse> =>
    request(`${h.url}${path}`, { ca: ca(), body, headers });
  const bearer = async (scope: string | string[], o?: Parameters<Harness['token']>[1]): Promise<Record<string, string>> => ({ authorization: `Bearer ${await h.token(scope, o)}` });

  before(async () => {
    h = await startHarness({ predictor: await loadMlpPredictor(), modelDir: MLP_DIR });
  });
  after(async () => {
    await h.close();
  });

  it('runs the real native predictor with the signed MLP fixture', () => {
    const info = h.predictor.info();
    assert.equal(info.verified, true);
    assert.match(info.backendVersion, /^builtin-/);
    assert.equal(info.keyId, JSON.parse(readFileSync(join(MLP_DIR, 'signature.json'), 'utf8')).keyId);
  });

  describe('health and metadata (Open Inference Protocol v2)', () => {
    it('live, ready, server metadata', async () => {
      assert.deepEqual((await get('/v2/health/live')).json, { live: true });
      const ready = await get('/v2/health/ready');
      assert.equal(ready.status, 200, ready.text);
      assert.equal((ready.json as { ready: boolean }).ready, true);
      assert.equal((ready.json as { mode: string }).mode, 'normal');
      const meta = await get('/v2');
      assert.equal((meta.json as { name: string }).name, 'paddle-sidecar');
      assert.ok(Array.isArray((meta.json as { extensions: unknown }).extensions));
    });
    it('model metadata and model ready for the configured name only', async () => {
      const m = await get(`/v2/models/${MODEL}`);
      assert.equal(m.status, 200);
      assert.deepEqual((m.json as { inputs: unknown }).inputs, [{ name: 'x', datatype: 'FP32', shape: [-1, 64] }]);
      assert.equal((await get(`/v2/models/${MODEL}/ready`)).status, 200);
      assert.equal((await get(`/v2/models/${MODEL}/versions/1`)).status, 200);
      assert.equal((await get(`/v2/models/${MODEL}/versions/1/ready`)).status, 200);
      const v2 = await get(`/v2/models/${MODEL}/versions/2/ready`);
      assert.equal(v2.status, 404);
      assert.match((v2.json as { error: string }).error, /has no version "2"/);
      const other = await get('/v2/models/resnet/ready');
      assert.equal(other.status, 404);
      assert.match((other.json as { error: string }).error, /not served here/);
    });
    it('/healthz runs a real light inference', async () => {
      const r = await get('/healthz');
      assert.equal(r.status, 200, r.text);
      assert.equal((r.json as { status: string }).status, 'ok');
      assert.ok((r.json as { latencyMs: number }).latencyMs >= 0);
    });
  });

  describe('inference', () => {
    it('POST /v2/models/{m}/infer returns OIP v2 outputs (probabilities summing to 1)', async () => {
      const r = await post(`/v2/models/${MODEL}/infer`, mlpBody(2, { id: 'req-7' }), await bearer('model_inference'));
      assert.equal(r.status, 200, r.text);
      const body = r.json as { model_name: string; id: string; outputs: { name: string; shape: number[]; datatype: string; data: number[] }[] };
      assert.equal(body.model_name, MODEL);
      assert.equal(body.id, 'req-7');
      const out = body.outputs[0];
      assert.ok(out);
      assert.equal(out.datatype, 'FP32');
      assert.deepEqual(out.shape, [2, 10]);
      const row0 = out.data.slice(0, 10).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(row0 - 1) < 1e-4, `softmax row sums to ${row0}`);
    });
    it('nested (row-major) data and output selection are accepted', async () => {
      const flat = (mlpBody(1).inputs as { data: number[] }[])[0]?.data ?? [];
      const r = await post(`/v2/models/${MODEL}/infer`, { inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: [flat] }], outputs: [{ name: MLP_OUTPUT }] }, await bearer('model_inference'));
      assert.equal(r.status, 200, r.text);
      assert.equal((r.json as { outputs: { name: string }[] }).outputs[0]?.name, MLP_OUTPUT);
    });
    it('the versioned OIP path (/versions/1/infer) is served too', async () => {
      const r = await post(`/v2/models/${MODEL}/versions/1/infer`, mlpBody(1), await bearer('model_inference'));
      assert.equal(r.status, 200, r.text);
      assert.equal((r.json as { model_version: string }).model_version, '1');
    });
    it('/v1/predict answers with the same body format', async () => {
      const r = await post('/v1/predict', mlpBody(1), await bearer('model_inference', { alg: 'RS256' }));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual((r.json as { outputs: { shape: number[] }[] }).outputs[0]?.shape, [1, 10]);
    });
    it('accepts ES256 tokens from the JWKS', async () => {
      const r = await post('/v1/predict', mlpBody(1), await bearer('model_inference', { alg: 'ES256' }));
      assert.equal(r.status, 200, r.text);
    });
    it('bad bodies -> 400 naming the problem; oversized -> 413', async () => {
      const auth = await bearer('model_inference');
      const cases: [unknown, RegExp][] = [
        [{ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP64', data: [] }] }, /datatype FP64 does not convert exactly to the model's FP32/],
        [{ inputs: [{ name: 'x', shape: [1, 64], datatype: 'BYTES', data: [] }] }, /BYTES \(string\) tensors are not supported/],
        [{ inputs: [{ name: 'x', shape: [1, 63], datatype: 'FP32', data: new Array(63).fill(0) }] }, /shape\[1\] must be 64/],
        [{ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: [1, 2] }] }, /2 elements/],
        [{ inputs: [{ name: 'y', shape: [1, 64], datatype: 'FP32', data: [] }] }, /not an input/],
        [{ inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: new Array(64).fill('a') }] }, /not a finite number/],
        [{ ...mlpBody(1), outputs: [{ name: 'nope' }] }, /not an output/],
        [[1, 2], /JSON object/],
      ];
      for (const [body, re] of cases) {
        const r = await post(`/v2/models/${MODEL}/infer`, body, auth);
        assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)} -> ${r.status}`);
        assert.match((r.json as { error: string }).error, re);
      }
      const malformed = await request(`${h.url}/v2/models/${MODEL}/infer`, { ca: ca(), rawBody: '{"inputs": [', headers: auth });
      assert.equal(malformed.status, 400);
      assert.deepEqual(malformed.json, { error: 'malformed JSON body' });
      const big = await request(`${h.url}/v1/predict`, { ca: ca(), rawBody: JSON.stringify({ pad: 'x'.repeat(1100 * 1024) }), headers: auth });
      assert.equal(big.status, 413, 'chunked body over the limit');
      assert.deepEqual(big.json, { error: 'request body too large' });
      const declared = JSON.stringify({ pad: 'x'.repeat(1100 * 1024) });
      const big2 = await request(`${h.url}/v1/predict`, { ca: ca(), rawBody: declared, headers: { ...auth, 'content-length': String(Buffer.byteLength(declared)) } });
      assert.equal(big2.status, 413, 'declared Content-Length over the limit');
      const gz = await request(`${h.url}/v1/predict`, { ca: ca(), rawBody: '{}', headers: { ...auth, 'content-encoding': 'gzip' } });
      assert.equal(gz.status, 415);
      assert.match((gz.json as { error: string }).error, /content encoding "gzip" is not supported/);
      const scalar = await request(`${h.url}/v1/predict`, { ca: ca(), rawBody: '42', headers: auth });
      assert.equal(scalar.status, 400);
    });
  });

  describe('authentication, authorization, rate limits', () => {
    it('missing, malformed, expired, wrong-issuer, wrong-audience, forged tokens -> 401', async () => {
      const forged = `${(await h.token('model_inference')).slice(0, -4)}AAAA`;
      const variants: Record<string, string>[] = [
        {},
        { authorization: 'Basic abc' },
        { authorization: `Bearer ${await h.token('model_inference', { expSeconds: -60 })}` },
        { authorization: `Bearer ${await h.token('model_inference', { issuer: 'https://evil.test' })}` },
        { authorization: `Bearer ${await h.token('model_inference', { audience: 'other' })}` },
        { authorization: `Bearer ${forged}` },
      ];
      for (const headers of variants) {
        const r = await post('/v1/predict', mlpBody(1), headers);
        assert.equal(r.status, 401, JSON.stringify(headers));
        assert.ok(typeof (r.json as { error: string }).error === 'string');
      }
    });
    it('valid token without the domain -> 403 insufficient permissions, before inference', async () => {
      const runsBefore = h.predictor.stats().runs;
      for (const [path, scope] of [['/v1/predict', 'data_protection'], ['/v1/encrypt_input', 'model_inference'], ['/v1/export_model', 'model_inference data_protection']] as const) {
        const r = await post(path, mlpBody(1), await bearer(scope));
        assert.equal(r.status, 403, path);
        assert.deepEqual(r.json, { error: 'insufficient permissions' });
      }
      const infer = await post(`/v2/models/${MODEL}/infer`, mlpBody(1), await bearer('model_admin'));
      assert.equal(infer.status, 403);
      assert.equal(h.predictor.stats().runs, runsBefore, 'no inference ran for refused requests');
      const denied = h.audits.filter((a) => a.decision === 'deny' && a.status === 403);
      assert.ok(denied.length >= 3, 'deny decisions are audited');
    });
    it('rate limit per (subject, domain): 429 with Retry-After at the policy rate', async () => {
      const auth = await bearer('model_admin', { sub: 'admin-limited' });
      const statuses: number[] = [];
      let last: TestResponse | undefined;
      for (let i = 0; i < 6; i++) {
        last = await request(`${h.url}/v1/export_model`, { ca: ca(), headers: auth });
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
      assert.ok(last);
      assert.ok(Number(last.headers['retry-after']) >= 1);
      assert.match((last.json as { error: string }).error, /5 calls per minute/);
      // Another subject has its own bucket.
      const other = await request(`${h.url}/v1/export_model`, { ca: ca(), headers: await bearer('model_admin', { sub: 'admin-2' }) });
      assert.equal(other.status, 200);
    });
    it('a pod enforces its share of the service-wide rate (auth.rateShare from the operator), changed without a restart', async () => {
      const base = h.sidecar.config();
      const exportCalls = async (sub: string, n: number): Promise<number[]> => {
        const auth = await bearer('model_admin', { sub });
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push((await request(`${h.url}/v1/export_model`, { ca: ca(), headers: auth })).status);
        return out;
      };
      try {
        // 3 replicas: each pod allows 5 x 0.4 = 2 calls of the 5 per minute.
        await h.sidecar.applyConfig({ ...base, auth: { ...base.auth, rateShare: 0.4 } });
        assert.deepEqual(await exportCalls('share-1', 3), [200, 200, 429]);
        // 10 replicas: 0.5 calls per minute, yet one call still gets through (a bucket holds at least one).
        await h.sidecar.applyConfig({ ...base, auth: { ...base.auth, rateShare: 0.1 } });
        assert.deepEqual(await exportCalls('share-2', 2), [200, 429]);
      } finally {
        await h.sidecar.applyConfig(base);
      }
    });
  });

  describe('model allow-list and path traversal', () => {
    it('refuses other names and traversal attempts with 404, touching no file', async () => {
      const auth = await bearer('model_inference');
      for (const name of ['..%2F..%2Fetc%2Fpasswd', '..', '%2e%2e', 'mlp%00', 'MLP', '..%5c..%5cwindows']) {
        const r = await post(`/v2/models/${name}/infer`, mlpBody(1), auth);
        assert.equal(r.status, 404, name);
        assert.ok(typeof (r.json as { error: string }).error === 'string');
      }
      const raw = await get('/v2/models/../../etc/passwd');
      assert.equal(raw.status, 404);
      const unknown = await get('/etc/passwd');
      assert.deepEqual(unknown.json, { error: 'no such endpoint' });
    });
  });

  describe('CORS', () => {
    it('allows a listed origin (preflight and actual), refuses others, never "*"', async () => {
      const pre = await request(`${h.url}/v1/predict`, { ca: ca(), method: 'OPTIONS', headers: { origin: 'https://console.example.com', 'access-control-request-method': 'POST' } });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://console.example.com');
      assert.match(String(pre.headers['access-control-allow-headers']), /Authorization/);
      const actual = await get('/v2/health/live', { origin: 'https://console.example.com' });
      assert.equal(actual.headers['access-control-allow-origin'], 'https://console.example.com');
      const evil = await get('/v2/health/live', { origin: 'https://evil.example.com' });
      assert.equal(evil.status, 403);
      assert.deepEqual(evil.json, { error: 'origin not allowed' });
      assert.equal(evil.headers['access-control-allow-origin'], undefined);
    });
  });

  describe('encryption and export', () => {
    it('/v1/encrypt_input output is accepted by /v1/predict; tampering is refused', async () => {
      const enc = await post('/v1/encrypt_input', mlpBody(1), await bearer('data_protection'));
      assert.equal(enc.status, 200, enc.text);
      const sealed = enc.json as { encrypted_input: { ciphertext: string } };
      assert.ok(!enc.text.includes('"inputs"'), 'plaintext does not leak');
      const r = await post('/v1/predict', sealed, await bearer('model_inference'));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual((r.json as { outputs: { shape: number[] }[] }).outputs[0]?.shape, [1, 10]);
      const ct = sealed.encrypted_input.ciphertext;
      const tampered = { encrypted_input: { ...sealed.encrypted_input, ciphertext: (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1) } };
      const bad = await post('/v1/predict', tampered, await bearer('model_inference'));
      assert.equal(bad.status, 400);
      assert.match((bad.json as { error: string }).error, /could not be decrypted/);
    });
    it('/v1/encrypt_input refuses a body nested too deeply to re-encode with 400, not 500', async () => {
      // JSON.parse takes any depth; JSON.stringify recursed past the stack at a few thousand levels.
      const depth = 20_000;
      const r = await request(`${h.url}/v1/encrypt_input`, { ca: ca(), rawBody: `{"x":${'['.repeat(depth)}${']'.repeat(depth)}}`, headers: await bearer('data_protection') });
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.json, { error: 'request body is nested too deeply to encrypt' });
      const ok = await post('/v1/encrypt_input', mlpBody(1), await bearer('data_protection'));
      assert.equal(ok.status, 200, ok.text);
    });
    it('/v1/export_model returns every model file with the signature, byte-exact', async () => {
      const r = await request(`${h.url}/v1/export_model`, { ca: ca(), headers: await bearer('model_admin', { sub: 'exporter' }) });
      assert.equal(r.status, 200, r.text.slice(0, 200));
      const body = r.json as { model: string; digest: string; files: { name: string; size: number; data: string }[] };
      assert.equal(body.model, MODEL);
      const names = body.files.map((f) => f.name);
      assert.ok(names.includes('signature.json') && names.includes('model.pdmodel') && names.includes('model.pdiparams'), names.join(','));
      for (const f of body.files) {
        const onDisk = readFileSync(join(MLP_DIR, f.name));
        const got = Buffer.from(f.data, 'base64');
        assert.equal(got.length, f.size);
        assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(onDisk).digest('hex'), f.name);
      }
      assert.ok(h.audits.some((a) => a.action === 'export_model' && a.decision === 'allow' && a.subject === 'exporter'));
    });
  });

  describe('dyeing, traces, metrics, logs', () => {
    it('echoes X-Env-Id / X-Test-Group, continues an incoming traceparent with parent/child spans', async () => {
      h.spans.reset();
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const parentSpan = '00f067aa0ba902b7';
      const r = await post(`/v2/models/${MODEL}/infer`, mlpBody(1), {
        ...(await bearer('model_inference')),
        traceparent: `00-${traceId}-${parentSpan}-01`,
        'x-env-id': 'gray-v2',
        'x-test-group': 'treatment',
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-env-id'], 'gray-v2');
      assert.equal(r.headers['x-test-group'], 'treatment');
      const tp = String(r.headers.traceparent);
      assert.match(tp, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      await new Promise((res) => setTimeout(res, 20));
      const spans = h.spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      const server = spans.find((s) => s.name.startsWith('POST'));
      const child = spans.find((s) => s.name === 'predictor.run');
      assert.ok(server && child, spans.map((s) => s.name).join(','));
      assert.equal(server.parentSpanContext?.spanId, parentSpan);
      assert.equal(child.parentSpanContext?.spanId, server.spanContext().spanId);
      assert.equal(tp.split('-')[2], server.spanContext().spanId, 'traceparent out names the server span');
      assert.equal(server.attributes['model.name'], MODEL);
      assert.equal(server.attributes['paddle.env_id'], 'gray-v2');
      assert.equal(server.attributes['paddle.test_group'], 'treatment');
      const access = validLogLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.trace_id === traceId && l['@log.kind'] === 'access');
      assert.ok(access, 'access log line carries the trace id');
      assert.equal(access.env_id, 'gray-v2');
      assert.equal(access.test_group, 'treatment');
      assert.equal(access['@span.id'], server.spanContext().spanId);
    });
    it('/metrics (on the metrics port) exposes the documented series', async () => {
      const r = await request(`${h.metricsUrl}/metrics`);
      assert.equal(r.status, 200);
      for (const name of [
        'paddle_request_duration_seconds_bucket{',
        'paddle_requests_total{',
        'paddle_request_failures_total{',
        'paddle_inflight_requests ',
        'paddle_breaker_state{group="control"} 0',
        'paddle_rate_limited_total{domain="model_admin"}',
        'paddle_serving_mode{mode="normal"} 1',
        'paddle_audit_buffer_depth',
        'paddle_audit_dropped_total',
        'paddle_gpu_memory_used_bytes',
        'paddle_model_ready 1',
      ]) {
        assert.ok(r.text.includes(name), `missing ${name}`);
      }
      assert.match(r.text, /paddle_request_duration_seconds_bucket\{[^}]*seq_len_bucket="lt128"[^}]*\}/);
    });
    it('the pod report reflects the traffic', () => {
      const rep = h.sidecar.buildReport();
      assert.equal(rep.ready, true);
      assert.ok(rep.matrix.total >= 5);
      assert.ok(rep.matrix.cells.every((c) => c.l === 0 && c.s === 0), 'seq len 64 < 128 -> L bucket 0; CPU -> S bucket 0');
      assert.ok((rep.latency.p95Ms ?? -1) >= 0);
      assert.equal(rep.model.digest, h.predictor.info().digest);
      assert.ok(rep.opProfile.length > 0);
    });
    it('every log line emitted validates against the schema', () => {
      assert.ok(validLogLines.length > 10);
      for (const l of validLogLines) assert.ok(validateLogRecord(JSON.parse(l)), l);
      const kinds = new Set(validLogLines.map((l) => (JSON.parse(l) as Record<string, unknown>)['@log.kind']));
      assert.deepEqual([...kinds].sort(), ['access', 'audit', 'event']);
      assert.deepEqual(deadLetters, []);
    });
  });
});
