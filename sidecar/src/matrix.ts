// The observation matrix M[S, D, L] (CHECKLIST 3.2): S = GPU memory bucket, D = latency bucket
// (latencyBucketMs wide), L = sequence-length bucket from the configured edges. Each inference
// adds one count. Sparse: a Map from the packed cell index to its count.

import type { MatrixStatus } from '../../crds/src/types.js';
import type { SidecarConfig } from './config.js';

export type MatrixConfig = SidecarConfig['matrix'];

/** L bucket: the number of edges <= seqLen (0 = below the first edge). */
export function seqLenBucket(seqLen: number, edges: readonly number[]): number {
  let l = 0;
  while (l < edges.length && seqLen >= (edges[l] ?? Infinity)) l++;
  return l;
}

/** A stable label for the L bucket, e.g. "lt128", "128-256", "ge4096". */
export function seqLenBucketLabel(l: number, edges: readonly number[]): string {
  if (edges.length === 0) return 'all';
  if (l === 0) return `lt${edges[0]}`;
  if (l >= edges.length) return `ge${edges[edges.length - 1]}`;
  return `${edges[l - 1]}-${edges[l]}`;
}

export class ObservationMatrix {
  /** Packed cell index ((s * latencyBuckets + d) * (seqLenEdges + 1) + l) -> count. */
  private cells = new Map<number, number>();
  total = 0;
  constructor(private config: MatrixConfig) {}

  /** A new layout resets the counts (cells of different layouts cannot be added). */
  setConfig(c: MatrixConfig): void {
    if (JSON.stringify(c) === JSON.stringify(this.config)) return;
    this.config = c;
    this.cells.clear();
    this.total = 0;
  }

  add(gpuMemoryBytes: number, latencyMs: number, seqLen: number): void {
    const c = this.config;
    const s = Math.min(c.gpuMemoryBuckets - 1, Math.floor(gpuMemoryBytes / (c.gpuMemoryBucketMB * 1024 * 1024)));
    const d = Math.min(c.latencyBuckets - 1, Math.floor(latencyMs / c.latencyBucketMs));
    const l = seqLenBucket(seqLen, c.seqLenEdges);
    const key = (Math.max(0, s) * c.latencyBuckets + Math.max(0, d)) * (c.seqLenEdges.length + 1) + l;
    this.cells.set(key, (this.cells.get(key) ?? 0) + 1);
    this.total++;
  }

  /**
   * The sparse status form. At most `maxCells` cells (the most frequent) are listed so the
   * report stays far below the API server's object size limit; `total` always counts all.
   */
  toStatus(maxCells = 2000): MatrixStatus {
    let entries = [...this.cells.entries()];
    if (entries.length > maxCells) entries = entries.sort((a, b) => b[1] - a[1]).slice(0, maxCells);
    const lCount = this.config.seqLenEdges.length + 1;
    const dCount = this.config.latencyBuckets;
    const cells = entries
      .map(([k, count]) => {
        const l = k % lCount;
        const sd = (k - l) / lCount;
        const d = sd % dCount;
        return { s: (sd - d) / dCount, d, l, count };
      })
      .sort((a, b) => a.s - b.s || a.d - b.d || a.l - b.l);
    return {
      gpuMemoryBucketMB: this.config.gpuMemoryBucketMB,
      latencyBucketMs: this.config.latencyBucketMs,
      seqLenEdges: [...this.config.seqLenEdges],
      total: this.total,
      cells,
    };
  }
}
