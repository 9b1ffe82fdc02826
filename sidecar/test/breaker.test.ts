// Circuit breaker (CHECKLIST 4.1, 4.3, 4.4) with a manual clock and scripted probes, then the
// same breaker driven end to end through the app by a scripted slow/failing predictor.

import assert from 'node:assert/strict';
import { CircuitBreaker, computeProbeDelayMs, GroupBreakers, type BreakerConfig, type ProbeResult } from '../src/breaker.js';
import { defaultSidecarConfig } from '../src/config.js';
import { ManualClock } from './helpers/manual-clock.js';
import { MODEL, mlpBody, pki, startHarness, deadLetters } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { ScriptedPredictor } from './helpers/predictors.js';

const defaults = (): BreakerConfig => structuredClone(defaultSidecarConfig('m').breaker);

function makeBreaker(o: { config?: BreakerConfig; probe?: () => Promise<ProbeResult>; random?: () => number; group?: 'control' | 'treatment' } = {}) {
  const clock = new ManualClock();
  const states: string[] = [];
  const probes: { at: number; passed: boolean }[] = [];
  const b = new CircuitBreaker({
    group: o.group ?? 'control',
    config: o.config ?? defaults(),
    clock,
    random: o.random ?? (() => 0.5),
    probe: o.probe ?? (async () => ({ ok: true, latencyMs: 5 })),
    onStateChange: (s) => states.push(s),
    onProbe: (_a, _r, passed) => probes.push({ at: clock.now(), passed }),
  });
  return { b, clock, states, probes };
}

describe('circuit breaker', () => {
  it('delay = min(1s * 2^n, 60s) * (0.9..1.1), stays at the cap after 5 attempts', () => {
    const r = defaults().recovery;
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 9].map((n) => computeProbeDelayMs(r, n, 0.5)), [1000, 2000, 4000, 8000, 16000, 32000, 32000, 32000]);
    assert.equal(computeProbeDelayMs(r, 0, 0), 900);
    assert.ok(Math.abs(computeProbeDelayMs(r, 0, 0.999999) - 1100) < 0.01);
    assert.equal(computeProbeDelayMs({ ...r, maxBackoffAttempts: 10 }, 7, 0.5), 60000, 'capped at maxDelaySeconds');
    for (let i = 0; i < 1000; i++) {
      const d = computeProbeDelayMs(r, 3, Math.random());
      assert.ok(d >= 7200 && d <= 8800, String(d));
    }
  });

  it('trips after failureThreshold (10) consecutive failures; a success resets the count', () => {
    const { b } = makeBreaker();
    for (let i = 0; i < 9; i++) b.record(5, false);
    b.record(5, true);
    for (let i = 0; i < 9; i++) b.record(5, false);
    assert.equal(b.state, 'closed');
    b.record(5, false);
    assert.equal(b.state, 'open');
    assert.equal(b.trips, 1);
    const adm = b.admit();
    assert.equal(adm.ok, false);
    assert.ok(!adm.ok && adm.retryAfterSeconds >= 1);
  });

  it('treatment group trips at its own stricter threshold (5)', () => {
    const clock = new ManualClock();
    const g = new GroupBreakers({ config: defaults(), clock, random: () => 0.5, probe: async () => ({ ok: true, latencyMs: 1 }) });
    for (let i = 0; i < 5; i++) {
      g.for('treatment').record(5, false);
      g.for('control').record(5, false);
    }
    assert.equal(g.treatment.state, 'open');
    assert.equal(g.control.state, 'closed');
    for (let i = 0; i < 5; i++) g.for('control').record(5, false);
    assert.equal(g.control.state, 'open');
  });

  it('window rule: P95 > 1.8 x rolling baseline AND error rate >= 5% for 3 consecutive windows', async () => {
    const cfg = { ...defaults(), failureThreshold: 1000 };
    const { b, clock } = makeBreaker({ config: cfg });
    b.start();
    // Healthy windows build the rolling baseline (~10 ms).
    for (let w = 0; w < 3; w++) {
      for (let i = 0; i < 100; i++) b.record(10, true);
      await clock.advance(10000);
    }
    assert.equal(b.baselineP95Ms(), 10);
    // Slow but error-free windows: latency alone does not trip.
    for (let w = 0; w < 4; w++) {
      for (let i = 0; i < 100; i++) b.record(50, true);
      await clock.advance(10000);
    }
    assert.equal(b.state, 'closed');
    // Slow AND 6% errors: trips on the third consecutive window, not before.
    // the slow error-free windows entered the baseline; it is now their mean.
    const base = b.baselineP95Ms() ?? 0;
    assert.ok(base > 10 && base < 50, String(base));
    const slow = Math.ceil(base * 1.8) + 5;
    const badSlow = (): void => {
      for (let i = 0; i < 100; i++) b.record(slow, i < 94);
    };
    badSlow();
    await clock.advance(10000);
    badSlow();
    await clock.advance(10000);
    assert.equal(b.state, 'closed');
    badSlow();
    await clock.advance(10000);
    assert.equal(b.state, 'open');
    assert.match(b.lastTripReason, /3 windows/);
    b.stop();
  });

  it('a fleet baseline from the operator replaces the rolling one; thresholds change at run time', async () => {
    const cfg = { ...defaults(), baselineP95Ms: 100, failureThreshold: 1000 };
    const { b, clock } = makeBreaker({ config: cfg });
    b.start();
    for (let w = 0; w < 3; w++) {
      for (let i = 0; i < 100; i++) b.record(150, i < 90);
      await clock.advance(10000);
    }
    assert.equal(b.state, 'closed', '150 ms is not > 1.8 x 100 ms');
    b.setConfig({ ...cfg, latencyMultiplier: 1.2, consecutiveWindows: 1 });
    for (let i = 0; i < 100; i++) b.record(150, i < 90);
    await clock.advance(10000);
    assert.equal(b.state, 'open');
    b.stop();
  });

  it('reports what it measured, never the published baseline, and the measurement follows latency', async () => {
    // The operator published 100 ms; this pod serves at 10 ms, then at 30 ms.
    const cfg = { ...defaults(), baselineP95Ms: 100, failureThreshold: 1000 };
    const { b, clock } = makeBreaker({ config: cfg });
    b.start();
    assert.equal(b.measuredBaselineP95Ms(), undefined, 'nothing measured yet');
    for (let w = 0; w < 5; w++) {
      for (let i = 0; i < 100; i++) b.record(10, true);
      await clock.advance(10000);
    }
    assert.equal(b.baselineP95Ms(), 100, 'the published value is the one in force');
    assert.equal(b.measuredBaselineP95Ms(), 10, 'the pod reports its own history');
    // Latency moves: the published value would have stayed 100 forever if the pod echoed it.
    for (let w = 0; w < 40; w++) {
      for (let i = 0; i < 100; i++) b.record(30, true);
      await clock.advance(10000);
    }
    assert.equal(b.measuredBaselineP95Ms(), 30, 'the rolling window forgot the 10 ms windows');
    b.stop();
  });

  it('recovery: probes back off with jitter, a failure resets the pass count, 2 passes close', async () => {
    const script = [false, false, true, false, true, true];
    const results: ProbeResult[] = script.map((ok) => ({ ok, latencyMs: 10 }));
    const { b, clock, states, probes } = makeBreaker({ probe: async () => results.shift() ?? { ok: true, latencyMs: 1 } });
    b.trip('test');
    await clock.advance(1000); // attempt 0 at 1 s: fail
    await clock.advance(2000); // attempt 1 at +2 s: fail
    await clock.advance(4000); // attempt 2 at +4 s: pass (half-open)
    assert.equal(b.state, 'half-open');
    await clock.advance(4000); // next at +4 s: fail -> back to open, attempt 3
    assert.equal(b.state, 'open');
    await clock.advance(8000); // +8 s: pass
    await clock.advance(8000); // +8 s: pass -> closed
    assert.equal(b.state, 'closed');
    assert.deepEqual(probes.map((p) => p.at), [1000, 3000, 7000, 11000, 19000, 27000]);
    assert.deepEqual(probes.map((p) => p.passed), script);
    assert.deepEqual(states, ['open', 'half-open', 'open', 'half-open', 'closed']);
    assert.equal(b.admit().ok, true);
  });

  it('a probe passes only under 200 ms and times out at 500 ms', async () => {
    const { b, clock, probes } = makeBreaker({ probe: () => new Promise(() => undefined) });
    b.trip('test');
    await clock.advance(1000);
    await clock.advance(499);
    assert.equal(probes.length, 0);
    await clock.advance(1);
    assert.equal(probes.length, 1);
    assert.equal(probes[0]?.passed, false);
    const slow = makeBreaker({ probe: async () => ({ ok: true, latencyMs: 250 }) });
    slow.b.trip('t');
    await slow.clock.advance(1000);
    assert.equal(slow.probes[0]?.passed, false, '250 ms is too slow to pass');
    assert.equal(slow.b.state, 'open');
  });
});

describe('circuit breaker through the app (scripted predictor)', function () {
  this.timeout(120000);
  it('the pod report carries the measured baseline, not the one the operator published', async () => {
    const h = await startHarness({ predictor: new ScriptedPredictor(), config: { breaker: { baselineP95Ms: 500 } } });
    try {
      assert.equal(h.sidecar.breakers.control.baselineP95Ms(), 500);
      const rep = h.sidecar.buildReport();
      assert.equal(rep.latency.baselineP95Ms, undefined, 'no healthy window measured yet: no baseline to report');
      for (let i = 0; i < 50; i++) h.sidecar.breakers.control.record(7, true);
      h.sidecar.breakers.control.closeWindow();
      assert.equal(h.sidecar.buildReport().latency.baselineP95Ms, 7);
    } finally {
      await h.close();
    }
  });
  it('failing predictor trips: 503 + Retry-After, not ready; recovers after two passing probes', async () => {
    const p = new ScriptedPredictor();
    const h = await startHarness({
      predictor: p,
      config: { breaker: { failureThreshold: 3, treatmentFailureThreshold: 2, recovery: { initialDelaySeconds: 0.2, maxDelaySeconds: 1 } } },
    });
    try {
      const ca = pki().caCert;
      const auth = { authorization: `Bearer ${await h.token('model_inference')}` };
      const infer = (group = 'control') => request(`${h.url}/v2/models/${MODEL}/infer`, { ca, body: mlpBody(1), headers: { ...auth, 'x-test-group': group } });
      assert.equal((await infer()).status, 200);
      p.failing = true;
      // treatment trips at 2 failures, control still serving (well: failing, but closed)
      assert.equal((await infer('treatment')).status, 500);
      assert.equal((await infer('treatment')).status, 500);
      const tOpen = await infer('treatment');
      assert.equal(tOpen.status, 503);
      assert.deepEqual(tOpen.json, { error: 'circuit breaker is open' });
      assert.equal(h.sidecar.breakers.control.state, 'closed');
      for (let i = 0; i < 3; i++) assert.equal((await infer()).status, 500);
      const open = await infer();
      assert.equal(open.status, 503);
      assert.ok(Number(open.headers['retry-after']) >= 1);
      const ready = await request(`${h.url}/v2/health/ready`, { ca });
      assert.equal(ready.status, 503);
      assert.match((ready.json as { error: string }).error, /not ready/);
      // A request of 3 rows (the probes' self-check is not): the open breaker answers it without
      // the predictor, however many probes run meanwhile on a slow machine.
      const blocked = await request(`${h.url}/v2/models/${MODEL}/infer`, { ca, body: mlpBody(3), headers: { ...auth, 'x-test-group': 'control' } });
      assert.equal(blocked.status, 503);
      assert.ok(!p.rows.includes(3), `open breaker keeps requests off the predictor (rows seen: ${p.rows.join(',')})`);
      // Heal: probes (0.2 s, then 0.2 s after a pass) close both breakers.
      p.failing = false;
      const deadline = Date.now() + 60_000; // a bound on a hang, not an expected duration
      while (h.sidecar.breakers.control.state !== 'closed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(h.sidecar.breakers.control.state, 'closed');
      assert.equal((await infer()).status, 200);
      assert.equal((await request(`${h.url}/v2/health/ready`, { ca })).status, 200);
      const metrics = await request(`${h.metricsUrl}/metrics`);
      assert.match(metrics.text, /paddle_breaker_trips_total\{group="control"\} 1/);
      assert.match(metrics.text, /paddle_breaker_trips_total\{group="treatment"\} 1/);
      assert.match(metrics.text, /paddle_request_duration_seconds_count\{[^}]*code="500"[^}]*\} 5/, 'failed inferences are in the duration histogram');
      assert.match(metrics.text, /paddle_request_failures_total\{model="mlp",reason="predictor"\} 5/);
      assert.match(metrics.text, /paddle_request_failures_total\{model="mlp",reason="breaker_open"\} [2-9]/);
    } finally {
      await h.close();
    }
    assert.deepEqual(deadLetters, []);
  });
});
