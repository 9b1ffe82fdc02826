import assert from 'node:assert/strict';
import { SidecarError } from '../../src/errors.js';
import { admitBreaker, createBreakers } from '../../src/pipeline/breaker-gate.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { kit, metricValue } from './kit.js';

describe('pipeline stage: breaker gate', () => {
  it("admits through the call group's breaker; an open one refuses with 503 + Retry-After; state changes reach metrics, log and the hook", async () => {
    const k = kit();
    let changes = 0;
    const breakers = createBreakers({ config: k.config.breaker, clock: new ManualClock(), probe: () => Promise.resolve({ ok: true, latencyMs: 1 }), metrics: k.metrics, log: k.loggers.event, onChange: () => changes++ });
    assert.equal(admitBreaker(breakers, 'control'), breakers.control);
    breakers.treatment.trip('test');
    assert.throws(() => admitBreaker(breakers, 'treatment'), (e: unknown) => e instanceof SidecarError && e.code === 'breaker_open' && e.httpStatus === 503 && (e.retryAfterSeconds ?? 0) >= 1);
    assert.equal(admitBreaker(breakers, 'control'), breakers.control, 'the other group is unaffected');
    assert.equal(changes, 1);
    assert.equal(await metricValue(k, 'paddle_breaker_state', { group: 'treatment' }), 2);
    assert.equal(await metricValue(k, 'paddle_breaker_state', { group: 'control' }), 0);
    assert.equal(await metricValue(k, 'paddle_breaker_trips_total', { group: 'treatment' }), 1);
    assert.ok(k.lines.some((l) => l.message === 'circuit breaker state changed' && l.group === 'treatment' && l.state === 'open'));
    breakers.stop();
  });
});
