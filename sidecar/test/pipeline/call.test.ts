// The call object's shared helpers (pipeline/call.ts): the fields every log line of a call
// carries, serialised and schema-checked once per call, and the time since arrival.

import assert from 'node:assert/strict';
import { type Call, lineFields, sinceMs } from '../../src/pipeline/call.js';
import { createLoggers } from '../../src/logging.js';
import { CallContext } from '../../src/pipeline/context.js';
import { kit } from './kit.js';

describe('pipeline: the call (shared log fields, elapsed time)', () => {
  const k = kit({ canary: { envId: 'stable', treatmentPercent: 0 } });
  const ctx = new CallContext(k.tracer, () => k.config);

  it("lineFields: the call's trace_id, @span.id, env_id and test_group, built once and reused by every line", () => {
    const call = ctx.open('POST', '/v2/models/mlp/infer', { 'x-env-id': 'canary-7', 'x-test-group': 'treatment' }, '10.0.0.1');
    const f = lineFields(call);
    assert.equal(f.failure, undefined);
    assert.equal(f.text, `,"trace_id":"${call.traceId}","@span.id":"${call.spanId}","env_id":"canary-7","test_group":"treatment"`);
    assert.equal(lineFields(call), f, 'the same object for the next line');
  });

  it('is built again when the canary group changed since (authn re-assigns it by the verified subject)', () => {
    const call: Call = ctx.open('POST', '/v2/models/mlp/infer', {}, '10.0.0.1');
    const before = lineFields(call);
    assert.match(before.text, /"test_group":"control"/);
    call.group = 'treatment';
    const after = lineFields(call);
    assert.notEqual(after, before);
    assert.match(after.text, /"test_group":"treatment"/);
    assert.equal(lineFields(call), after);
  });

  it('shared values that fail the log schema send every line written with them to the dead letters', () => {
    const call: Call = { ...ctx.open('GET', '/v2', {}, undefined), traceId: 'NOT-HEX' };
    const f = lineFields(call);
    assert.match(f.failure ?? '', /trace_id/);
    const out: string[] = [];
    const dead: string[] = [];
    const loggers = createLoggers({ service: 'paddle-sidecar', sinks: { out: { write: (l) => void out.push(l) }, deadLetter: { write: (l) => void dead.push(l) } } });
    loggers.info({ '@log.kind': 'access', status: 200 }, 'request served', f);
    loggers.info({ '@log.kind': 'audit', status: 200 }, 'audit event', f);
    assert.equal(out.length, 0, 'nothing reached the log');
    assert.equal(dead.length, 2);
    for (const l of dead) assert.match((JSON.parse(l) as { dead_letter_reason: string }).dead_letter_reason, /trace_id/);
  });

  it('sinceMs: milliseconds since an hrtime stamp, never negative, growing', async () => {
    const t0 = process.hrtime.bigint();
    const a = sinceMs(t0);
    await new Promise((r) => setTimeout(r, 5));
    const b = sinceMs(t0);
    assert.ok(a >= 0 && b > a && b >= 4, `${a} then ${b}`);
    assert.ok(Math.abs(sinceMs(t0 - 2_000_000n) - sinceMs(t0) - 2) < 0.5, 'a stamp 2 ms earlier reads 2 ms more');
  });
});
