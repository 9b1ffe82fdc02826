import assert from 'node:assert/strict';
import type { AuditEvent } from '../../src/audit.js';
import { auditAction, AuditRecorder } from '../../src/pipeline/audit-record.js';
import { CallContext } from '../../src/pipeline/context.js';
import { kit } from './kit.js';

describe('pipeline stage: audit record', () => {
  it('writes an audit line and an event; 401/403/429 are deny; an answer the caller never got is 499 client_closed', () => {
    const k = kit();
    const events: AuditEvent[] = [];
    const audit = new AuditRecorder(k.loggers, 'digest-1', { record: (e) => events.push(e) });
    const ctx = new CallContext(k.tracer, () => k.config);
    const ok = ctx.open('POST', '/v1/predict', { 'x-request-id': 'a-1', 'x-env-id': 'gray' }, undefined);
    ok.policyPath = '/v1/predict';
    ok.principal = { subject: 'alice', domains: new Set() };
    audit.record(ok, 'predict', 200);
    const denied = ctx.open('POST', '/v1/predict', {}, undefined);
    audit.record(denied, 'predict', 429, 'rate_limited');
    const gone = ctx.open('POST', '/v1/predict', {}, undefined);
    gone.clientClosed = true;
    audit.record(gone, 'predict', 200);
    assert.deepEqual(
      events.map((e) => [e.decision, e.status, e.outcome, e.subject, e.reason]),
      [['allow', 200, 'success', 'alice', undefined], ['deny', 429, 'failure', '-', 'rate_limited'], ['allow', 499, 'failure', '-', 'client_closed']],
    );
    assert.deepEqual([events[0]?.path, events[0]?.modelDigest, events[0]?.requestId, events[0]?.envId, events[0]?.traceId], ['/v1/predict', 'digest-1', 'a-1', 'gray', ok.traceId]);
    const lines = k.lines.filter((l) => l['@log.kind'] === 'audit');
    assert.equal(lines.length, 3);
    assert.equal(lines[1]?.decision, 'deny');
  });

  it('without a sink the line is still written; policy paths name their action', () => {
    const k = kit();
    new AuditRecorder(k.loggers, 'd', undefined).record(new CallContext(k.tracer, () => k.config).open('GET', '/x', {}, undefined), 'export_model', 403, 'forbidden');
    assert.equal(k.lines.filter((l) => l['@log.kind'] === 'audit').length, 1);
    assert.equal(auditAction('/v2/models/{model}/infer'), 'models_model_infer');
    assert.equal(auditAction('/v1/export_model'), 'export_model');
  });
});
