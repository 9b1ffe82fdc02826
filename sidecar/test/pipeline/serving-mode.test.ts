import assert from 'node:assert/strict';
import type { ResourceSample } from '../../src/degradation.js';
import { SidecarError } from '../../src/errors.js';
import type { PredictorLike } from '../../src/predictor.js';
import { ServingModes } from '../../src/pipeline/serving-mode.js';
import { InProcessMlp } from '../helpers/predictors.js';
import { kit, metricValue } from './kit.js';

describe('pipeline stage: degradation (serving mode)', () => {
  it('sheds under CPU pressure (503 + Retry-After, counted), recovers, and publishes the mode gauge', async () => {
    const k = kit();
    let sample: ResourceSample = { cpu: 0.1, gpu: undefined, cpuSource: 'process' };
    const modes = new ServingModes({ predictor: new InProcessMlp(), device: 'cpu', sampler: () => sample, metrics: k.metrics, log: k.loggers.event, config: () => k.config });
    modes.refuseWhenShedding();
    sample = { cpu: 0.99, gpu: undefined, cpuSource: 'process' };
    assert.equal(modes.sample(), 'shed');
    assert.throws(() => modes.refuseWhenShedding(), (e: unknown) => e instanceof SidecarError && e.httpStatus === 503 && e.retryAfterSeconds === k.config.degradation.retryAfterSeconds);
    assert.equal(await metricValue(k, 'paddle_serving_mode', { mode: 'shed' }), 1);
    assert.equal(await metricValue(k, 'paddle_shed_total'), 1);
    sample = { cpu: 0.1, gpu: undefined, cpuSource: 'process' };
    assert.equal(modes.sample(), 'normal');
    assert.equal(await metricValue(k, 'paddle_serving_mode', { mode: 'normal' }), 1);
    assert.ok(k.lines.some((l) => l.message === 'serving mode changed' && l.to === 'shed'));
  });

  it('GPU pressure switches to the CPU predictor when there is one; a CPU pod stays normal', () => {
    const k = kit();
    const gpuHot: ResourceSample = { cpu: 0.1, gpu: 0.99, cpuSource: 'process', gpuMemoryUsedBytes: 99, gpuMemoryTotalBytes: 100 };
    const gpu = new InProcessMlp();
    const cpu: PredictorLike = new InProcessMlp();
    const withFallback = new ServingModes({ predictor: gpu, device: 'gpu', cpuPredictor: cpu, sampler: () => gpuHot, metrics: k.metrics, log: k.loggers.event, config: () => k.config });
    assert.equal(withFallback.sample(), 'cpu-fallback');
    assert.equal(withFallback.active().predictor, cpu);
    assert.equal(withFallback.active().device, 'cpu');
    const cpuPod = new ServingModes({ predictor: gpu, device: 'cpu', sampler: () => gpuHot, metrics: kit().metrics, log: k.loggers.event, config: () => k.config });
    assert.notEqual(cpuPod.sample(), 'cpu-fallback');
    assert.equal(cpuPod.active().predictor, gpu);
  });
});
