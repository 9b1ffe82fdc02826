// Stage 8, breaker: one circuit breaker per test group (breaker.ts's GroupBreakers). While a
// group's breaker is open its calls get 503 + Retry-After; predictor failures open it (client
// errors never count); the self-check is its recovery probe. State changes go to the breaker
// gauges, the trip counter, the event log and the model-ready gauge.

import { type CircuitBreaker, GroupBreakers, type ProbeResult, type TestGroup } from '../breaker.js';
import type { Clock } from '../clock.js';
import type { SidecarConfig } from '../config.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../logging.js';
import { BREAKER_STATE_VALUE, type SidecarMetrics } from '../metrics.js';

export interface BreakerGateOptions {
  config: SidecarConfig['breaker'];
  clock: Clock;
  random?: () => number;
  probe: () => Promise<ProbeResult>;
  metrics: SidecarMetrics;
  log: Logger;
  /** After every state change (readiness follows the control group's breaker). */
  onChange: () => void;
}

export function createBreakers(o: BreakerGateOptions): GroupBreakers {
  const breakers = new GroupBreakers({
    config: o.config,
    clock: o.clock,
    ...(o.random ? { random: o.random } : {}),
    probe: () => o.probe(),
    onStateChange: (group, s, reason) => {
      o.metrics.breakerState.set({ group }, BREAKER_STATE_VALUE[s]);
      if (s === 'open') o.metrics.breakerTrips.inc({ group });
      o.log[s === 'open' ? 'warn' : 'info']({ group, state: s, reason }, 'circuit breaker state changed');
      o.onChange();
    },
  });
  o.metrics.breakerState.set({ group: 'control' }, 0);
  o.metrics.breakerState.set({ group: 'treatment' }, 0);
  return breakers;
}

/** The breaker of `group` when it admits a call; 503 `breaker_open` + Retry-After otherwise. */
export function admitBreaker(breakers: GroupBreakers, group: TestGroup): CircuitBreaker {
  const breaker = breakers.for(group);
  const admission = breaker.admit();
  if (!admission.ok) throw new SidecarError('breaker_open', 'circuit breaker is open', { retryAfterSeconds: admission.retryAfterSeconds });
  return breaker;
}
