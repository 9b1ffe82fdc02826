// Admission before work: what one run with these input shapes will need, against the pod's
// memory budget, decided before the request waits or runs. The need is
//   the predictor's own figure for the run (Predictor.estimateRunBytes: the workspace, the
//   input copy and the output copies, from a shape-only pass) +
//   the JSON response (output elements x the longest text of one element, twice: the text
//   and the bytes written), with dynamic output dims taken from the inputs (dim 0 = batch,
//   dim i = the first input's dim i).
// A need above the budget is refused with 422 `over_budget`, naming both figures; a need within
// it is what the run holds in the queue (pipeline/queue.ts) while it runs. Figures are cached
// per shape tuple (the hot path sends the same shapes again and again).

import { SidecarError } from '../errors.js';
import type { DType, Tensor, TensorInfo } from '../predictor.js';
import { shapeKey } from './service-times.js';

/** The predictor's estimate (native `Predictor.estimateRunBytes`): peak bytes of one run, an upper bound. */
export type EstimateRunBytes = (shapes: Record<string, readonly number[]>) => number;

export interface RunNeed {
  runBytes: number;
  responseBytes: number;
  total: number;
}

/** The longest JSON text of one element, with its separator. */
const JSON_BYTES: Record<DType, number> = { float32: 16, int32: 12, int64: 21 };
const CACHE_ENTRIES = 256;
const MIB = 1024 * 1024;

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

export class Admission {
  private readonly cache = new Map<string, RunNeed>();

  /**
   * `budgetBytes`: what one run may take (0 or less: no memory admission). `estimate`: the
   * predictor's figure for the run; without it only the response is counted.
   */
  constructor(
    readonly budgetBytes: number,
    private readonly outputs: readonly TensorInfo[],
    private readonly estimate?: EstimateRunBytes,
  ) {}

  get enabled(): boolean {
    return this.budgetBytes > 0;
  }

  /** The bytes one run with these inputs needs (cached by shapes; `key`: their shapeKey when the caller has it). */
  need(inputs: Record<string, Tensor>, key = shapeKey(inputs)): RunNeed {
    let n = this.cache.get(key);
    if (n) return n;
    const shapes: Record<string, readonly number[]> = {};
    for (const name in inputs) shapes[name] = (inputs[name] as Tensor).shape;
    const runBytes = this.runBytes(shapes);
    const responseBytes = 2 * responseElementsBytes(this.outputs, shapes);
    n = { runBytes, responseBytes, total: runBytes + responseBytes };
    if (this.cache.size >= CACHE_ENTRIES) this.cache.clear();
    this.cache.set(key, n);
    return n;
  }

  private runBytes(shapes: Record<string, readonly number[]>): number {
    if (!this.estimate) return 0;
    try {
      return this.estimate(shapes);
    } catch (err) {
      // Unknown inputs or shapes the model does not take: the caller's request, answered before any work.
      const name = err instanceof Error ? err.name : '';
      if (name === 'TypeError' || name === 'ShapeError' || name === 'RangeError') {
        throw new SidecarError('bad_request', `input rejected by the model: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
  }

  /** Refuses (422 over_budget) a run whose need is above the budget; returns the bytes to hold while it runs. */
  admit(inputs: Record<string, Tensor>, key?: string): number {
    if (!this.enabled) return 0;
    const n = this.need(inputs, key);
    if (n.total > this.budgetBytes) {
      throw new SidecarError(
        'over_budget',
        `this request needs about ${mib(n.total)} (run ${mib(n.runBytes)} + response ${mib(n.responseBytes)}), above the memory budget of ${mib(this.budgetBytes)} per run: send fewer or shorter inputs`,
      );
    }
    return n.total;
  }
}

/** Output elements x JSON bytes per element, dynamic dims taken from the input shapes. */
export function responseElementsBytes(outputs: readonly TensorInfo[], shapes: Record<string, readonly number[]>): number {
  const first = Object.values(shapes)[0] ?? [];
  let bytes = 0;
  for (const o of outputs) {
    let count = 1;
    o.shape.forEach((d, i) => {
      count *= d >= 0 ? d : (first[i] ?? maxDim(shapes));
    });
    bytes += count * JSON_BYTES[o.dtype];
  }
  return bytes;
}

function maxDim(shapes: Record<string, readonly number[]>): number {
  let m = 1;
  for (const s of Object.values(shapes)) for (const d of s) m = Math.max(m, d);
  return m;
}
