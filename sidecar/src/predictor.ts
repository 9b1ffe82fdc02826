// The narrow view of the native predictor the sidecar depends on. The app takes any object
// with this shape (dependency injection): main.ts passes the real `Predictor` from
// native/lib/index.ts; unit tests may pass an in-process fake of our own making.

import type { DType, GpuTelemetry, ModelInfo, Predictor, PredictorStats, Tensor, TensorInfo, TypedData } from '../../native/lib/index.js';

// Type-only imports: the shapes are the native surface's own, so they cannot drift, and
// importing them loads no addon.
export type { DType, Tensor, TensorInfo, TypedData };
export type ModelInfoLike = ModelInfo;
export type PredictorStatsLike = PredictorStats;
export type GpuTelemetryLike = GpuTelemetry;

/**
 * The part of the native `Predictor` the app calls. `estimateRunBytes` (peak bytes of one run
 * at these input shapes, from a shape-only pass) is optional: admission uses it when present.
 */
export type PredictorLike = Pick<Predictor, 'run' | 'inputs' | 'outputs' | 'info' | 'stats' | 'dispose'> & {
  estimateRunBytes?(inputs: Record<string, readonly number[]>): number;
  /** run() on the calling thread (the native Predictor has it): short runs skip the pool's hop (pipeline/inline-runs.ts). */
  runSync?(inputs: Record<string, Tensor>): Record<string, Tensor>;
};

/** Builds a typed array of the given dtype and length, filled with `value`. */
export function filledTypedArray(dtype: DType, length: number, value: number): TypedData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length).fill(value);
    case 'int32':
      return new Int32Array(length).fill(value);
    case 'int64':
      return new BigInt64Array(length).fill(BigInt(Math.trunc(value)));
  }
}

/**
 * The light input the self-check and /healthz run: every declared input with dynamic
 * dimensions set to 1 (batch) or `dynamicDim` (other axes), filled with zeros for int inputs
 * (always a valid id) and a small constant for floats.
 */
export function buildProbeInputs(infos: TensorInfo[], dynamicDim = 4): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const info of infos) {
    const shape = info.shape.map((d, i) => (d >= 0 ? d : i === 0 ? 1 : dynamicDim));
    const count = shape.reduce((a, b) => a * b, 1);
    out[info.name] = { dtype: info.dtype, shape, data: filledTypedArray(info.dtype, count, info.dtype === 'float32' ? 0.5 : 0) };
  }
  return out;
}
