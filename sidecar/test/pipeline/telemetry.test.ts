import assert from 'node:assert/strict';
import { CallContext } from '../../src/pipeline/context.js';
import { statusLabel, Telemetry } from '../../src/pipeline/telemetry.js';
import { kit, metricValue } from './kit.js';

describe('pipeline stage: telemetry (span, metrics, access line)', () => {
  it('counts the request, observes the duration of calls that reached the predictor, and writes one access line', async () => {
    const k = kit();
    const ctx = new CallContext(k.tracer, () => k.config);
    const t = new Telemetry(k.metrics, k.loggers, () => 'mlp');
    const call = ctx.open('POST', '/v2/models/mlp/infer', { 'x-request-id': 'tel-1', 'x-env-id': 'gray' }, undefined);
    call.principal = { subject: 'alice', domains: new Set() };
    call.inference = { device: 'cpu', seqLenBucket: 'all' };
    t.close(call, 200, '/v2/models/:name/infer', 'POST');
    const failed = ctx.open('POST', '/v1/predict', { 'x-request-id': 'tel-2' }, undefined);
    failed.failureReason = 'internal: boom';
    t.close(failed, 500, '/v1/predict', 'POST');
    assert.equal(await metricValue(k, 'paddle_requests_total', { model: 'mlp', path: '/v2/models/:name/infer', code: '200' }), 1);
    assert.equal(await metricValue(k, 'paddle_requests_total', { model: 'mlp', path: '/v1/predict', code: '500' }), 1);
    const text = await k.registry.metrics();
    assert.match(text, /paddle_request_duration_seconds_count\{[^}]*code="200"[^}]*\} 1/);
    assert.doesNotMatch(text, /paddle_request_duration_seconds_count\{[^}]*code="500"/, 'no duration for a call that never ran');
    const lines = k.lines.filter((l) => l['@log.kind'] === 'access');
    assert.equal(lines.length, 2);
    assert.deepEqual(
      { path: lines[0]?.path, status: lines[0]?.status, request_id: lines[0]?.request_id, env_id: lines[0]?.env_id, subject: lines[0]?.subject, trace_id: lines[0]?.trace_id },
      { path: '/v2/models/:name/infer', status: 200, request_id: 'tel-1', env_id: 'gray', subject: 'alice', trace_id: call.traceId },
    );
    assert.equal(lines[1]?.['@error.cause'], 'internal: boom');
  });

  it('status labels are interned strings', () => {
    assert.equal(statusLabel(404), '404');
    assert.equal(statusLabel(404), statusLabel(404));
  });
});
