// Public surface of the native predictor (the sidecar codes against exactly this).
import { binding, type RawDType, type RawModelInfo, type RawPredictor, type RawStats, type RawTensor, type RawTensorInfo } from './binding.js';
import { toPaddleError } from './errors.js';

export {
  PaddleError,
  ModelVerificationError,
  ModelFormatError,
  UnsupportedOpError,
  ShapeError,
  MemoryLimitError,
} from './errors.js';
export { addonCandidates, loadBinding } from './binding.js';
export { inspectModel, formatCoverage, type ModelCoverage } from './inspect.js';

// The tensor, model-info and stats shapes are the addon's own (binding.ts declares them once);
// the public names below are those shapes, so the two cannot drift apart.
export type DType = RawDType;
export type TypedData = RawTensor['data'];
export type Tensor = RawTensor;
/** shape: -1 marks a dynamic dimension. */
export type TensorInfo = RawTensorInfo;
export interface LoadOptions {
  modelDir: string;
  format?: 'auto' | 'pdmodel' | 'pir';
  backend?: 'builtin' | 'paddle';
  publicKeyPem?: string;
  requireSignature?: boolean /* default true */;
  cpuThreads?: number /* 1 */;
  maxMemoryMB?: number /* 2048 */;
  device?: 'cpu' | 'gpu';
  gpuDeviceId?: number;
  paddleLibraryPath?: string;
  /** backend "paddle": the Paddle Inference version this image is built for (default 3.0.0). */
  paddleVersion?: string;
}
/** digest: sha256 hex of the signed manifest. */
export type ModelInfo = Omit<RawModelInfo, 'opCounts' | 'runOpCounts'>;
export type RunStats = NonNullable<RawStats['lastRun']>;
/** opTimesMs is cumulative over all runs. */
export type PredictorStats = RawStats;
export type GpuTelemetry =
  | { available: false; reason: string }
  | {
      available: true;
      driverVersion: string;
      devices: { index: number; name: string; memoryUsedBytes: number; memoryTotalBytes: number; utilizationGpu: number }[];
      processMemoryBytes: number;
    };

/**
 * A loaded, verified model. `run()` computes on a worker thread, `runSync()` on the calling
 * one; concurrent runs are safe.
 * `dispose()` throws (code ERR_BUSY) while runs are in flight; after dispose every method
 * throws (code ERR_DISPOSED).
 */
export class Predictor {
  readonly #native: RawPredictor;

  private constructor(native: RawPredictor) {
    this.#native = native;
  }

  static async load(options: LoadOptions): Promise<Predictor> {
    if (options === null || typeof options !== 'object') throw new TypeError('Predictor.load(options) needs an options object');
    try {
      return new Predictor(await binding().Predictor.load(options));
    } catch (err) {
      throw toPaddleError(err);
    }
  }

  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    try {
      return (await this.#native.run(inputs)) as Record<string, Tensor>;
    } catch (err) {
      throw toPaddleError(err);
    }
  }

  /**
   * run() on the calling thread: the same checks, outputs and errors, thrown instead of
   * rejected. It saves the hop to a pool thread and back (two thread wake-ups: 100-300 us on a
   * small VM, for an MLP whose compute takes 40 us), but the event loop waits for the whole
   * computation: for runs known to be short.
   */
  runSync(inputs: Record<string, Tensor>): Record<string, Tensor> {
    try {
      return this.#native.runSync(inputs) as Record<string, Tensor>;
    } catch (err) {
      throw toPaddleError(err);
    }
  }

  inputs(): TensorInfo[] {
    return this.#call(() => this.#native.inputs());
  }

  outputs(): TensorInfo[] {
    return this.#call(() => this.#native.outputs());
  }

  info(): ModelInfo {
    const { opCounts: _opCounts, runOpCounts: _runOpCounts, ...info } = this.#call(() => this.#native.info());
    return info;
  }

  /** How many ops of each type the program holds (for `paddle-model inspect`). */
  opCounts(): Record<string, number> {
    return this.#call(() => this.#native.info().opCounts);
  }

  /**
   * The ops a run executes, by kernel name, after the load-time passes (constant folding,
   * fusions: e.g. `fused_conv2d`, `fused_matmul`, `batch_matmul`); empty for the paddle backend.
   */
  runOpCounts(): Record<string, number> {
    return this.#call(() => this.#native.info().runOpCounts);
  }

  /**
   * An upper bound of the bytes one run with these input shapes needs beyond the loaded model
   * (the run's working memory plus its input and output copies), computed without running: a
   * shape-only pass over the compiled program. Throws TypeError (code ERR_INVALID_ARGUMENT) for
   * unknown or missing inputs, ShapeError for shapes the model does not take.
   */
  estimateRunBytes(inputs: Record<string, readonly number[]>): number {
    return this.#call(() => this.#native.estimateRunBytes(inputs));
  }

  stats(): PredictorStats {
    return this.#call(() => this.#native.stats());
  }

  dispose(): void {
    this.#call(() => this.#native.dispose());
  }

  #call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toPaddleError(err);
    }
  }
}

/**
 * GPU telemetry from NVML (dlopen of libnvidia-ml.so.1, or $PADDLE_NVML_LIBRARY);
 * `{ available: false, reason }` where there is none.
 */
export function gpuTelemetry(): GpuTelemetry {
  const raw = binding().gpuTelemetry(process.env.PADDLE_NVML_LIBRARY || undefined);
  if (!raw.available) return { available: false, reason: raw.reason ?? 'unknown' };
  return {
    available: true,
    driverVersion: raw.driverVersion ?? '',
    devices: raw.devices ?? [],
    processMemoryBytes: raw.processMemoryBytes ?? 0,
  };
}

/**
 * Bytes the kernel still holds to send on TCP socket `fd` (written, not yet acknowledged by the
 * peer; SIOCOUTQ), or -1 where `fd` is not a TCP socket.
 */
export function unsentBytes(fd: number): number {
  return binding().unsentBytes(fd);
}

/** Op types the builtin backend executes. */
export function supportedOps(): string[] {
  return binding().supportedOps();
}
