// Circuit breaker, CHECKLIST 4.1 / 4.3 / 4.4.
//
// Trips when EITHER
//   - for `consecutiveWindows` consecutive sampling windows of `windowSeconds`, BOTH the window's
//     P95 latency > latencyMultiplier x baseline P95 AND its error rate >= errorRateThreshold
//     (the baseline is the operator's fleet value when published, else the rolling mean of the
//     P95s of this pod's recent healthy windows), or
//   - `failureThreshold` consecutive requests fail (the treatment group's breaker uses the
//     stricter treatmentFailureThreshold).
// While open, requests get 503 + Retry-After. Recovery: probe after
//   delay(n) = min(initialDelay x 2^min(n, maxBackoffAttempts), maxDelay) x (1 ± jitter);
// a probe passes when it succeeds in < passLatencyMs (probeTimeoutMs timeout); requiredPasses
// consecutive passes close the breaker; a failed probe resets the count and widens the delay.
// Thresholds are replaced at run time with setConfig (config hot reload).

import type { BreakerState } from '../../crds/src/types.js';
import type { SidecarConfig } from './config.js';
import { type Clock, systemClock, within } from './clock.js';
import { quantile, SampleRing } from './quantiles.js';

export type BreakerConfig = SidecarConfig['breaker'];
export type TestGroup = 'control' | 'treatment';

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
}

export interface BreakerEvents {
  onStateChange?: (state: BreakerState, reason: string) => void;
  onProbe?: (attempt: number, result: ProbeResult, passed: boolean) => void;
}

export interface BreakerOptions extends BreakerEvents {
  group: TestGroup;
  config: BreakerConfig;
  probe: (timeoutMs: number) => Promise<ProbeResult>;
  clock?: Clock;
  random?: () => number;
}

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number };

const BASELINE_WINDOWS = 30;
/** Latency samples kept per window (reservoir sampling beyond this); counts stay exact. */
const WINDOW_SAMPLES = 4096;

/** The recovery delay in ms for a given attempt (pure; `r` in [0,1) supplies the jitter). */
export function computeProbeDelayMs(recovery: BreakerConfig['recovery'], attempt: number, r: number): number {
  const exp = Math.min(attempt, recovery.maxBackoffAttempts);
  const base = Math.min(recovery.initialDelaySeconds * 2 ** exp, recovery.maxDelaySeconds);
  const factor = 1 + recovery.jitter * (2 * r - 1);
  return base * factor * 1000;
}

const ADMITTED: Admission = Object.freeze({ ok: true });

export class CircuitBreaker {
  readonly group: TestGroup;
  private config: BreakerConfig;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly probe: BreakerOptions['probe'];
  private readonly events: BreakerEvents;

  private stateValue: BreakerState = 'closed';
  private tripsValue = 0;
  private windowLatencies: number[] = [];
  private windowFailures = 0;
  private windowCount = 0;
  private badWindows = 0;
  private consecutiveFailures = 0;
  private readonly baseline = new SampleRing(BASELINE_WINDOWS);
  private attempt = 0;
  private passes = 0;
  private nextProbeAt = 0;
  private probeTimer: unknown;
  private windowTimer: unknown;
  private stopped = false;
  private windowsRunning = false;
  /** Delays (ms) of every probe scheduled since the last trip: visible for tests and reports. */
  readonly probeDelaysMs: number[] = [];
  lastTripReason = '';

  constructor(o: BreakerOptions) {
    this.group = o.group;
    this.config = o.config;
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? Math.random;
    this.probe = o.probe;
    this.events = { ...(o.onStateChange ? { onStateChange: o.onStateChange } : {}), ...(o.onProbe ? { onProbe: o.onProbe } : {}) };
  }

  get state(): BreakerState {
    return this.stateValue;
  }
  get trips(): number {
    return this.tripsValue;
  }
  get failureThreshold(): number {
    return this.group === 'treatment' ? this.config.treatmentFailureThreshold : this.config.failureThreshold;
  }
  /** The baseline P95 in ms in force now (fleet value, else rolling mean), if any. */
  baselineP95Ms(): number | undefined {
    return this.config.baselineP95Ms ?? this.baseline.mean();
  }

  /**
   * What this pod measured: the rolling mean of the P95s of its last BASELINE_WINDOWS healthy
   * windows, whatever baseline is in force. The pod reports this one, never the published value
   * (reporting that would feed the operator its own number back and freeze the fleet baseline).
   */
  measuredBaselineP95Ms(): number | undefined {
    return this.baseline.mean();
  }

  /** Starts the sampling-window timer (the failure-count rule and probes need no start). */
  start(): void {
    if (this.windowsRunning) return;
    this.stopped = false;
    this.windowsRunning = true;
    this.scheduleWindow();
  }

  stop(): void {
    this.stopped = true;
    this.windowsRunning = false;
    this.clock.clearTimeout(this.windowTimer);
    this.clock.clearTimeout(this.probeTimer);
  }

  /** Replaces thresholds at run time; the current state and history are kept. */
  setConfig(config: BreakerConfig): void {
    const windowChanged = config.windowSeconds !== this.config.windowSeconds;
    this.config = config;
    if (windowChanged && this.windowsRunning) {
      this.clock.clearTimeout(this.windowTimer);
      this.scheduleWindow();
    }
  }

  admit(): Admission {
    if (this.stateValue === 'closed') return ADMITTED;
    const waitMs = Math.max(0, this.nextProbeAt - this.clock.now());
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  /** Records one finished request (only called for requests the breaker admitted). */
  record(latencyMs: number, ok: boolean): void {
    if (this.stateValue !== 'closed') return;
    this.windowCount++;
    if (this.windowLatencies.length < WINDOW_SAMPLES) this.windowLatencies.push(latencyMs);
    else {
      const slot = Math.floor(this.random() * this.windowCount);
      if (slot < WINDOW_SAMPLES) this.windowLatencies[slot] = latencyMs;
    }
    if (ok) {
      this.consecutiveFailures = 0;
      return;
    }
    this.windowFailures++;
    this.consecutiveFailures++;
    if (this.consecutiveFailures >= this.failureThreshold) {
      this.trip(`${this.consecutiveFailures} consecutive failures (threshold ${this.failureThreshold})`);
    }
  }

  /** Closes the current sampling window and applies the window rule. Exposed for tests. */
  closeWindow(): void {
    const latencies = this.windowLatencies;
    const failures = this.windowFailures;
    const count = this.windowCount;
    this.windowLatencies = [];
    this.windowFailures = 0;
    this.windowCount = 0;
    if (this.stateValue !== 'closed' || count === 0) return;
    const p95 = quantile(latencies, 0.95) ?? 0;
    const errorRate = failures / count;
    const baseline = this.baselineP95Ms();
    const bad =
      baseline !== undefined && p95 > this.config.latencyMultiplier * baseline && errorRate >= this.config.errorRateThreshold;
    if (bad) {
      this.badWindows++;
      if (this.badWindows >= this.config.consecutiveWindows) {
        this.trip(
          `P95 ${p95.toFixed(1)} ms > ${this.config.latencyMultiplier} x baseline ${baseline.toFixed(1)} ms and error rate ${(errorRate * 100).toFixed(1)}% for ${this.badWindows} windows`,
        );
      }
    } else {
      this.badWindows = 0;
      this.baseline.push(p95);
    }
  }

  /** Forces the breaker open (used by tests and by an operator-driven trip). */
  trip(reason: string): void {
    if (this.stateValue === 'open') return;
    this.tripsValue++;
    this.lastTripReason = reason;
    this.attempt = 0;
    this.passes = 0;
    this.badWindows = 0;
    this.consecutiveFailures = 0;
    this.probeDelaysMs.length = 0;
    this.setState('open', reason);
    this.scheduleProbe();
  }

  private setState(state: BreakerState, reason: string): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.events.onStateChange?.(state, reason);
  }

  private scheduleWindow(): void {
    if (!this.windowsRunning) return;
    this.windowTimer = this.clock.setTimeout(() => {
      this.closeWindow();
      this.scheduleWindow();
    }, this.config.windowSeconds * 1000);
  }

  private scheduleProbe(): void {
    const delay = computeProbeDelayMs(this.config.recovery, this.attempt, this.random());
    this.probeDelaysMs.push(delay);
    this.nextProbeAt = this.clock.now() + delay;
    this.clock.clearTimeout(this.probeTimer);
    this.probeTimer = this.clock.setTimeout(() => void this.runProbe(), delay);
  }

  private async runProbe(): Promise<void> {
    if (this.stateValue === 'closed') return;
    const { probeTimeoutMs, passLatencyMs, requiredPasses } = this.config.recovery;
    const started = this.clock.now();
    let result: ProbeResult;
    try {
      result = await within(this.probe(probeTimeoutMs), probeTimeoutMs, { ok: false, latencyMs: probeTimeoutMs }, this.clock);
    } catch {
      result = { ok: false, latencyMs: this.clock.now() - started };
    }
    if (this.stopped) return;
    const passed = result.ok && result.latencyMs < passLatencyMs;
    this.events.onProbe?.(this.attempt, result, passed);
    if (passed) {
      this.passes++;
      if (this.passes >= requiredPasses) {
        this.passes = 0;
        this.attempt = 0;
        this.setState('closed', `${requiredPasses} consecutive probes passed`);
        return;
      }
      this.setState('half-open', 'probe passed');
    } else {
      this.passes = 0;
      this.attempt++;
      this.setState('open', 'probe failed');
    }
    this.scheduleProbe();
  }
}

/** The control and treatment breakers (CHECKLIST 4.3: treatment traffic trips sooner). */
export class GroupBreakers {
  readonly control: CircuitBreaker;
  readonly treatment: CircuitBreaker;
  constructor(o: Omit<BreakerOptions, 'group' | 'onStateChange'> & { onStateChange?: (group: TestGroup, state: BreakerState, reason: string) => void }) {
    const make = (group: TestGroup): CircuitBreaker =>
      new CircuitBreaker({
        ...o,
        group,
        onStateChange: (state, reason) => o.onStateChange?.(group, state, reason),
      });
    this.control = make('control');
    this.treatment = make('treatment');
  }
  for(group: TestGroup): CircuitBreaker {
    return group === 'treatment' ? this.treatment : this.control;
  }
  setConfig(c: BreakerConfig): void {
    this.control.setConfig(c);
    this.treatment.setConfig(c);
  }
  start(): void {
    this.control.start();
    this.treatment.start();
  }
  stop(): void {
    this.control.stop();
    this.treatment.stop();
  }
}
