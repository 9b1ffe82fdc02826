import assert from 'node:assert/strict';
import { computeDesiredReplicas, computePublishedBaseline, type AutoscaleInput } from '../src/autoscale.js';
import { variant } from './fixtures.js';

// gpu.yaml: min 2, max 8, target P95 50 ms, max GPU memory 0.85, window 300 s.
const spec = variant('gpu.yaml', () => undefined).spec;
const T = Date.UTC(2026, 0, 1);

function decide(over: Partial<AutoscaleInput>) {
  return computeDesiredReplicas({ spec, current: 4, now: T, ...over });
}

describe('computeDesiredReplicas', () => {
  const table: Array<[string, Partial<AutoscaleInput>, number]> = [
    ['no metrics: hold', {}, 4],
    ['P95 within band: hold', { p95Ms: 45 }, 4],
    ['P95 slightly above target: +1', { p95Ms: 51 }, 5],
    ['P95 1.5x target: proportional', { p95Ms: 75 }, 6],
    ['P95 10x target: capped at max', { p95Ms: 500 }, 8],
    ['GPU memory above max: up', { p95Ms: 10, gpuMemoryUtilization: 0.9 }, 5],
    ['below min: raised', { current: 1 }, 2],
    ['above max: lowered', { current: 12 }, 8],
    ['at max under pressure: stays', { current: 8, p95Ms: 90 }, 8],
    ['below target but window not elapsed: hold', { p95Ms: 10, belowSince: T - 299_000 }, 4],
    ['below target for the whole window: down', { p95Ms: 20, belowSince: T - 300_000 }, 3],
    ['far below target after the window: proportional, at least -1, not below min', { p95Ms: 1, belowSince: T - 300_000 }, 2],
  ];
  for (const [name, over, expected] of table) {
    it(`${name} -> ${expected}`, () => {
      const d = decide(over);
      assert.equal(d.replicas, expected);
      assert.ok(d.reason.length > 0);
      assert.ok(d.replicas >= 2 && d.replicas <= 8);
    });
  }

  it('starts the window on first sight of low load and asks to be re-checked when it ends', () => {
    const d = decide({ p95Ms: 10 });
    assert.equal(d.belowSince, T);
    assert.equal(d.recheckAfterMs, 300_000);
    assert.match(d.reason, /stabilization window/);
  });

  it('a spike inside the window resets it (scale up, window cleared)', () => {
    const d = decide({ p95Ms: 80, belowSince: T - 200_000 });
    assert.equal(d.replicas, 7);
    assert.equal(d.belowSince, undefined);
  });

  it('after a step down, the next step needs a fresh window', () => {
    const d = decide({ p95Ms: 20, belowSince: T - 300_000 });
    assert.equal(d.belowSince, T);
    const next = decide({ current: d.replicas, p95Ms: 20, now: T + 1_000, belowSince: d.belowSince });
    assert.equal(next.replicas, d.replicas);
  });

  it('without autoscaling spec.replicas rules', () => {
    const fixed = variant('minimal.yaml', (p) => (p.spec.replicas = 3)).spec;
    assert.equal(computeDesiredReplicas({ spec: fixed, current: 7, now: T, p95Ms: 1000 }).replicas, 3);
  });
});

describe('computePublishedBaseline', () => {
  const tuning = { intervalSeconds: 60, maxStep: 1.5 };
  const now = 1_000_000_000;
  const longAgo = now - 3600_000;
  const table: Array<[number | undefined, number | undefined, number | undefined]> = [
    [undefined, undefined, undefined],
    [undefined, 12.34, 12.3],
    [12.3, 12.9, 12.3],
    [12.3, 13.6, 13.6],
    [20, 17.5, 17.5],
    [20, 0, 20],
    // One move is at most a factor 1.5 either way.
    [20, 100, 30],
    [30, 5, 20],
  ];
  for (const [published, fleet, expected] of table) {
    it(`published ${published}, fleet ${fleet}, last move long ago -> ${expected}`, () =>
      assert.equal(computePublishedBaseline({ published, fleet, tunedAt: longAgo, now, tuning }).value, expected));
  }

  it('moves at most once per interval and asks to be looked at again when the interval ends', () => {
    const d = computePublishedBaseline({ published: 20, fleet: 40, tunedAt: now - 20_000, now, tuning });
    assert.deepEqual(d, { value: 20, moved: false, recheckAfterMs: 40_000 });
  });

  it('follows a fleet whose latency keeps moving: never frozen, never faster than the bound', () => {
    // The fleet's measured baseline goes 10 -> 80 ms and stays; the operator reconciles every 15 s.
    let published: number | undefined = 10;
    let tunedAt: number | undefined = now;
    const seen: number[] = [];
    for (let t = now; t <= now + 10 * 60_000; t += 15_000) {
      const d = computePublishedBaseline({ published, fleet: 80, tunedAt, now: t, tuning });
      if (d.moved) {
        assert.ok((d.value ?? 0) <= (published ?? 0) * 1.5 + 0.05, `step ${published} -> ${d.value} beyond x1.5`);
        assert.ok(tunedAt === undefined || t - tunedAt >= 60_000, 'at most one move per minute');
        published = d.value;
        tunedAt = t;
        seen.push(published ?? 0);
      }
    }
    assert.deepEqual(seen, [15, 22.5, 33.8, 50.7, 76.1]);
    assert.equal(published, 76.1, 'within 10 % of the fleet after 5 minutes, and there it stays (hysteresis)');
  });
});
