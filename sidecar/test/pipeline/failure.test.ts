import assert from 'node:assert/strict';
import type { AuditEvent } from '../../src/audit.js';
import { SidecarError } from '../../src/errors.js';
import { AuditRecorder } from '../../src/pipeline/audit-record.js';
import { CallContext } from '../../src/pipeline/context.js';
import { Failures, toSidecarError } from '../../src/pipeline/failure.js';
import { kit, metricValue } from './kit.js';

describe('pipeline: failures', () => {
  it('maps body-parser errors and unknown errors; never leaks an unknown message', () => {
    assert.equal(toSidecarError(Object.assign(new Error('x'), { type: 'entity.too.large' })).httpStatus, 413);
    assert.equal(toSidecarError(Object.assign(new Error('x'), { type: 'entity.parse.failed' })).httpStatus, 400);
    assert.equal(toSidecarError(Object.assign(new Error('x'), { status: 418 })).httpStatus, 418);
    const e = toSidecarError(new Error('secret detail'));
    assert.deepEqual([e.httpStatus, e.code, e.message], [500, 'internal', 'internal error']);
    const own = new SidecarError('rate_limited', 'slow down', { retryAfterSeconds: 3 });
    assert.equal(toSidecarError(own), own);
  });

  it('notes the cause on the call, logs 5xx, audits guarded calls, counts by reason (not predictor failures)', async () => {
    const k = kit();
    const events: AuditEvent[] = [];
    const f = new Failures(k.loggers, k.metrics, new AuditRecorder(k.loggers, 'd', { record: (e) => events.push(e) }), () => 'mlp');
    const ctx = new CallContext(k.tracer, () => k.config);
    const guarded = ctx.open('POST', '/v2/models/mlp/infer', {}, undefined);
    guarded.policyPath = '/v2/models/{model}/infer';
    assert.equal(f.note(guarded, new SidecarError('forbidden', 'insufficient permissions')).httpStatus, 403);
    assert.equal(guarded.failureReason, 'forbidden: forbidden: insufficient permissions', 'code, then the described cause');
    assert.deepEqual(events.map((e) => [e.action, e.status, e.decision, e.reason]), [['models_model_infer', 403, 'deny', 'forbidden']]);
    const open = ctx.open('GET', '/v2', {}, undefined);
    f.note(open, new Error('boom'));
    assert.equal(events.length, 1, 'public routes are not audited');
    assert.ok(k.lines.some((l) => l['@log.kind'] === 'event' && l.code === 'internal' && l.trace_id === open.traceId));
    f.note(undefined, new SidecarError('inference_failed', 'inference failed'));
    assert.equal(await metricValue(k, 'paddle_request_failures_total', { reason: 'forbidden' }), 1);
    assert.equal(await metricValue(k, 'paddle_request_failures_total', { reason: 'internal' }), 1);
    assert.equal(await metricValue(k, 'paddle_request_failures_total', { reason: 'inference_failed' }), 0);
  });
});
