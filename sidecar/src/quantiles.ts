// Small pure helpers for latency statistics.

/** The q-quantile (0..1) of the values by the nearest-rank method; undefined when empty. */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

/** A fixed-capacity ring of recent samples (latency history for quantiles). */
export class SampleRing {
  private readonly buf: number[] = [];
  private next = 0;
  constructor(readonly capacity: number) {}
  push(v: number): void {
    if (this.buf.length < this.capacity) this.buf.push(v);
    else this.buf[this.next] = v;
    this.next = (this.next + 1) % this.capacity;
  }
  values(): number[] {
    return [...this.buf];
  }
  get size(): number {
    return this.buf.length;
  }
  mean(): number | undefined {
    if (this.buf.length === 0) return undefined;
    return this.buf.reduce((a, b) => a + b, 0) / this.buf.length;
  }
}
