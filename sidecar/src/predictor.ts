// The narrow view of the native predictor the sidecar depends on. The app takes any object
// with this shape (dependency injection): main.ts passes the real `Predictor` from
// native/lib/index.ts; unit tests may pass an in-process fake of our own making.

export type DType = 'float32' | 'int64' | 'int32';
export type TypedData = Float32Array | BigInt64Array | Int32Array;

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TypedData;
}

export interface TensorInfo {
  name: string;
  dtype: DType;
  /** -1 marks a dynamic dimension. */
  shape: number[];
}

export interface ModelInfoLike {
  format: 'pdmodel' | 'pir';
  backend: 'builtin' | 'paddle';
  backendVersion: string;
  verified: boolean;
  algorithm?: string;
  keyId?: string;
  digest: string;
  verifiedAt?: string;
  parameterBytes: number;
}

export interface PredictorStatsLike {
  runs: number;
  failures: number;
  lastRun?: { latencyMs: number; opTimesMs: Record<string, number> };
  opTimesMs: Record<string, number>;
  memory: { arenaBytes: number; parameterBytes: number };
}

export type GpuTelemetryLike =
  | { available: false; reason: string }
  | {
      available: true;
      driverVersion: string;
      devices: { index: number; name: string; memoryUsedBytes: number; memoryTotalBytes: number; utilizationGpu: number }[];
      processMemoryBytes: number;
    };

export interface PredictorLike {
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  inputs(): TensorInfo[];
  outputs(): TensorInfo[];
  info(): ModelInfoLike;
  stats(): PredictorStatsLike;
  dispose(): void;
}

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
