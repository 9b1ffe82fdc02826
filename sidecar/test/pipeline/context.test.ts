import assert from 'node:assert/strict';
import { answerHeaders, CallContext, traceparentOfCall } from '../../src/pipeline/context.js';
import { kit } from './kit.js';

describe('pipeline stage: context (request id, trace context, dyeing)', () => {
  const k = kit({ canary: { envId: 'stable', treatmentPercent: 0 } });
  const ctx = new CallContext(k.tracer, () => k.config);
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('keeps a well-formed caller request id and replaces a malformed one with a UUID', () => {
    assert.equal(ctx.open('GET', '/v2', { 'x-request-id': 'abc-1.2_3' }, '10.0.0.1').requestId, 'abc-1.2_3');
    const bad = ctx.open('GET', '/v2', { 'x-request-id': 'has space\n' }, '10.0.0.1').requestId;
    assert.match(bad, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(ctx.open('GET', '/v2', {}, undefined).requestId, bad);
  });

  it("continues the caller's trace with a new span id and passes tracestate on", () => {
    const c = ctx.open('POST', '/v2/models/mlp/infer', { traceparent: parent, tracestate: 'vendor=abc' }, '10.0.0.1');
    assert.equal(c.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.notEqual(c.spanId, '00f067aa0ba902b7');
    const tp = traceparentOfCall(c).split('-');
    assert.deepEqual([tp[0], tp[1], tp[2]], ['00', c.traceId, c.spanId]);
    const h = answerHeaders(c);
    assert.equal(h[h.indexOf('tracestate') + 1], 'vendor=abc');
  });

  it('starts a new trace without (or with a broken) traceparent', () => {
    const a = ctx.open('GET', '/v2', { traceparent: 'garbage' }, undefined);
    const b = ctx.open('GET', '/v2', {}, undefined);
    assert.match(a.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(a.traceId, b.traceId);
  });

  it('dyeing: a valid X-Env-Id wins over the configured one; X-Test-Group is case-insensitive; without it the group is provisional', () => {
    const dyed = ctx.open('GET', '/v2', { 'x-env-id': 'gray-v2', 'x-test-group': 'TREATMENT' }, '10.0.0.1');
    assert.equal(dyed.envId, 'gray-v2');
    assert.equal(dyed.group, 'treatment');
    assert.equal(dyed.groupAssigned, false);
    const plain = ctx.open('GET', '/v2', { 'x-env-id': 'bad env!' }, '10.0.0.1');
    assert.equal(plain.envId, 'stable');
    assert.equal(plain.group, 'control');
    assert.equal(plain.groupAssigned, true);
    const h = answerHeaders(dyed);
    assert.deepEqual([h[0], h[1]], ['X-Request-Id', dyed.requestId]);
    assert.equal(h[h.indexOf('X-Env-Id') + 1], 'gray-v2');
    assert.equal(h[h.indexOf('X-Test-Group') + 1], 'treatment');
  });
});
