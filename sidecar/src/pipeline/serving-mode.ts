// Stage 7, degradation: the serving mode from resource samples (degradation.ts's tree):
// `normal`, `cpu-fallback` (GPU pressure: the CPU predictor serves), or `shed` (every inference
// refused with 503 + Retry-After until the pressure passes). Sampled on a timer once started.

import type { Device, ServingMode } from '../../../crds/src/types.js';
import type { SidecarConfig } from '../config.js';
import { computeServingMode, type ResourceSample, type ResourceSampler } from '../degradation.js';
import { SidecarError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { SidecarMetrics } from '../metrics.js';
import type { PredictorLike } from '../predictor.js';

export interface ActivePredictor {
  predictor: PredictorLike;
  device: Device;
}

export interface ServingModeOptions {
  predictor: PredictorLike;
  device: Device;
  /** A CPU predictor for the fallback (GPU pods); absent on CPU pods. */
  cpuPredictor?: PredictorLike;
  sampler?: ResourceSampler;
  metrics: SidecarMetrics;
  log: Logger;
  config: () => SidecarConfig;
}

const MODES = ['normal', 'cpu-fallback', 'shed'] as const;

export class ServingModes {
  mode: ServingMode = 'normal';
  last: ResourceSample | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly primary: ActivePredictor;
  private readonly fallback: ActivePredictor | undefined;

  constructor(private readonly o: ServingModeOptions) {
    this.primary = { predictor: o.predictor, device: o.device };
    this.fallback = o.cpuPredictor ? { predictor: o.cpuPredictor, device: 'cpu' } : undefined;
    this.setGauge();
  }

  /** The predictor that serves now (the CPU one in cpu-fallback mode when there is one). */
  active(): ActivePredictor {
    return this.mode === 'cpu-fallback' && this.fallback ? this.fallback : this.primary;
  }

  /** 503 `shed` + Retry-After while shedding. */
  refuseWhenShedding(): void {
    if (this.mode !== 'shed') return;
    this.o.metrics.shed.inc();
    throw new SidecarError('shed', 'server is shedding load', { retryAfterSeconds: this.o.config().degradation.retryAfterSeconds });
  }

  /** Takes one sample now and applies the tree. */
  sample(): ServingMode {
    const sampler = this.o.sampler;
    if (!sampler) return this.mode;
    const s = sampler();
    const m = this.o.metrics;
    this.last = s;
    m.cpuUtilization.set(s.cpu);
    if (s.gpuMemoryUsedBytes !== undefined) m.gpuMemoryUsed.set(s.gpuMemoryUsedBytes);
    if (s.gpuMemoryTotalBytes !== undefined) m.gpuMemoryTotal.set(s.gpuMemoryTotalBytes);
    let next = computeServingMode(s, this.o.config().degradation);
    // Without a CPU predictor (a CPU pod) the fallback is the normal path already.
    if (next === 'cpu-fallback' && !this.o.cpuPredictor && this.o.device === 'cpu') next = 'normal';
    if (next !== this.mode) {
      this.o.log.warn({ from: this.mode, to: next, cpu: s.cpu, gpu: s.gpu ?? null }, 'serving mode changed');
      this.mode = next;
      this.setGauge();
    }
    return this.mode;
  }

  /** (Re)starts the sampling timer at the config's interval; `stop` ends it. */
  start(): void {
    this.stop();
    if (!this.o.sampler) return;
    this.timer = setInterval(() => this.sample(), this.o.config().degradation.sampleIntervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private setGauge(): void {
    for (const x of MODES) this.o.metrics.servingMode.set({ mode: x }, x === this.mode ? 1 : 0);
  }
}
