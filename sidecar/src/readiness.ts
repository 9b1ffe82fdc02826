// Readiness of the model (what /v2/health/ready, ModelReady and the pod report say): the model's
// signature was verified (or checking was explicitly off), the self-check inference passed, and
// the control group's breaker is closed. The self-check runs the fixed probe input through the
// active predictor; it is also the breaker's recovery probe, /healthz's answer, and runs in the
// background (at most once a second) after a predictor failure.

import type { Device, ServingMode } from '../../crds/src/types.js';
import type { GroupBreakers, ProbeResult } from './breaker.js';
import type { Clock } from './clock.js';
import { describeCause } from './errors.js';
import type { Logger } from './logging.js';
import type { SidecarMetrics } from './metrics.js';
import { sinceMs } from './pipeline/call.js';
import type { ActivePredictor } from './pipeline/serving-mode.js';
import { buildProbeInputs } from './predictor.js';

export type SelfCheckResult = ProbeResult & { error?: string };

export interface ReadinessOptions {
  info: { verified: boolean };
  allowUnverified: boolean;
  active: () => ActivePredictor;
  mode: () => ServingMode;
  modelName: () => string;
  metrics: SidecarMetrics;
  log: Logger;
  clock: Clock;
}

export class Readiness {
  selfCheckPassed = false;
  private lastError = 'self-check has not run';
  private inFlight: Promise<SelfCheckResult> | undefined;
  private lastBackground = 0;
  private breakers: GroupBreakers | undefined;
  private stopping: string | undefined;

  constructor(private readonly o: ReadinessOptions) {}

  /** From now on not ready, with this reason (shutdown: the endpoints drop the pod while it still serves). */
  drain(reason: string): void {
    this.stopping = reason;
    this.publish();
  }

  /** The breakers whose control state readiness includes (they probe through selfCheck). */
  attach(breakers: GroupBreakers): void {
    this.breakers = breakers;
  }

  state(): { ready: boolean; reason: string } {
    if (this.stopping !== undefined) return { ready: false, reason: this.stopping };
    if (!this.o.info.verified && !this.o.allowUnverified) return { ready: false, reason: 'model signature not verified' };
    if (!this.selfCheckPassed) return { ready: false, reason: `self-check failed: ${this.lastError}` };
    const b = this.breakers?.control.state ?? 'closed';
    if (b !== 'closed') return { ready: false, reason: `circuit breaker ${b}` };
    return { ready: true, reason: 'model loaded, verified and self-checked' };
  }

  /** Sets the model-ready gauge from the current state. */
  publish(): void {
    this.o.metrics.modelReady.set(this.state().ready ? 1 : 0);
  }

  /** The /v2/health/ready status and body (the serving port and the health port's worker give the same). */
  answer(): { status: number; body: unknown } {
    const r = this.state();
    const b = this.breakers;
    const details = {
      ready: r.ready,
      model: this.o.modelName(),
      verified: this.o.info.verified,
      selfCheckPassed: this.selfCheckPassed,
      mode: this.o.mode(),
      device: this.o.active().device as Device,
      breaker: { control: b?.control.state ?? 'closed', treatment: b?.treatment.state ?? 'closed' },
    };
    return r.ready ? { status: 200, body: details } : { status: 503, body: { error: `not ready: ${r.reason}`, ...details } };
  }

  /** Runs one light inference (joined when one is running); updates readiness. */
  selfCheck(): Promise<SelfCheckResult> {
    this.inFlight ??= this.runCheck().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** A self-check after a predictor failure, at most once a second. */
  background(): void {
    const now = this.o.clock.now();
    if (now - this.lastBackground < 1000) return;
    this.lastBackground = now;
    void this.selfCheck();
  }

  private async runCheck(): Promise<SelfCheckResult> {
    const started = process.hrtime.bigint();
    const { predictor } = this.o.active();
    try {
      const out = await predictor.run(buildProbeInputs(predictor.inputs()));
      const missing = predictor.outputs().map((o) => o.name).filter((n) => !(n in out));
      if (missing.length > 0) throw new Error(`self-check output lacks ${missing.join(', ')}`);
      for (const [name, t] of Object.entries(out)) {
        if (t.data instanceof Float32Array && t.data.some((v) => !Number.isFinite(v))) throw new Error(`self-check output ${name} is not finite`);
      }
      this.selfCheckPassed = true;
      this.lastError = '';
      return { ok: true, latencyMs: sinceMs(started) };
    } catch (err) {
      this.selfCheckPassed = false;
      this.lastError = describeCause(err);
      this.o.log.error({ '@error.cause': this.lastError }, 'self-check inference failed');
      return { ok: false, latencyMs: sinceMs(started), error: this.lastError };
    } finally {
      this.publish();
    }
  }
}
