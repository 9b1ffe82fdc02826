// What one request of a given input shape costs once it leaves the run queue: its service time,
// from the start of its run to the last byte of its answer (run + encode + write; for front ends
// that do not report the answer, the run alone). The run queue (queue.ts) reads two figures per
// shape from it:
//
// - `slow(key)`: the slowest of the last `recent` service times, what a run starting now is
//   expected to take under the present load (a run exceeds it only when it is slower than each
//   of the last `recent`);
// - `oneRun(key)`: the fastest service time of the last `windowMs`, what one run costs on a free
//   server: the "one run" of the queue's bound (maxQueueTimeMs + one run).
//
// Shapes never seen use the figures of all shapes together; at most `maxKeys` shapes are kept
// (least recently observed dropped first), so varied shapes cannot grow it without bound.

import type { Tensor } from '../predictor.js';

interface Figures {
  recent: number[];
  next: number;
  /** Fastest per time slot (windowMs / SLOTS each), newest last. */
  slots: Array<{ slot: number; min: number }>;
}

const SLOTS = 10;

/**
 * The last key built and the names and shapes it was built from: requests of one service mostly
 * repeat one shape, and the same string (its hash already computed) then serves every Map that
 * the key looks up (admission's cache, the service times) without being built again.
 */
const lastKey = { names: [] as string[], shapes: [] as number[][], key: '' };

function isLastKey(names: readonly string[], inputs: Record<string, Pick<Tensor, 'shape'>>): boolean {
  if (names.length !== lastKey.names.length) return false;
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (name !== lastKey.names[i]) return false;
    const shape = inputs[name]?.shape ?? [];
    const seen = lastKey.shapes[i] as number[];
    if (shape.length !== seen.length) return false;
    for (let d = 0; d < shape.length; d++) if (shape[d] !== seen[d]) return false;
  }
  return true;
}

/** The key of a run's inputs: names and shapes (a batch of 3 x 128 tokens is not one of 1 x 16). */
export function shapeKey(inputs: Record<string, Pick<Tensor, 'shape'>>): string {
  const names = Object.keys(inputs);
  if (names.length > 1) names.sort();
  if (isLastKey(names, inputs)) return lastKey.key;
  let key = '';
  for (const name of names) key += `${name}:${(inputs[name]?.shape ?? []).join('x')};`;
  lastKey.names = names;
  lastKey.shapes = names.map((name) => [...(inputs[name]?.shape ?? [])]);
  lastKey.key = key;
  return key;
}

export class ServiceTimes {
  private readonly byKey = new Map<string, Figures>();
  private readonly all: Figures = { recent: [], next: 0, slots: [] };
  /** The key observed last (the end of byKey's order). */
  private newest: string | undefined;

  constructor(
    private readonly now: () => number,
    private readonly recent = 32,
    private readonly windowMs = 600_000,
    private readonly maxKeys = 64,
  ) {}

  observe(key: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    let f = this.byKey.get(key);
    // Least recently observed first: move the key to the end, unless it is there already.
    if (key !== this.newest || f === undefined) {
      if (f) this.byKey.delete(key);
      else {
        f = { recent: [], next: 0, slots: [] };
        if (this.byKey.size >= this.maxKeys) this.byKey.delete(this.byKey.keys().next().value as string);
      }
      this.byKey.set(key, f);
      this.newest = key;
    }
    const slot = Math.floor(this.now() / (this.windowMs / SLOTS));
    this.add(f as Figures, ms, slot);
    this.add(this.all, ms, slot);
  }

  private add(f: Figures, ms: number, slot: number): void {
    if (f.recent.length < this.recent) f.recent.push(ms);
    else f.recent[f.next] = ms;
    f.next = (f.next + 1) % this.recent;
    const last = f.slots[f.slots.length - 1];
    if (last && last.slot === slot) last.min = Math.min(last.min, ms);
    else f.slots.push({ slot, min: ms });
    while (f.slots.length > 0 && (f.slots[0] as { slot: number }).slot <= slot - SLOTS) f.slots.shift();
  }

  private figures(key: string): Figures {
    const f = this.byKey.get(key);
    return f && f.recent.length > 0 ? f : this.all;
  }

  /** The slowest of the last `recent` service times of this shape (0 before any). */
  slow(key: string): number {
    let max = 0;
    for (const ms of this.figures(key).recent) if (ms > max) max = ms;
    return max;
  }

  /** Whether this shape itself (not the all-shapes fallback) was served in under `ms` within the window. */
  isShort(key: string, ms: number): boolean {
    const f = this.byKey.get(key);
    if (!f || f.recent.length === 0) return false;
    const oldest = Math.floor(this.now() / (this.windowMs / SLOTS)) - SLOTS;
    for (const s of f.slots) if (s.slot > oldest && s.min < ms) return true;
    return false;
  }

  /** The fastest service time of this shape within the window (0 before any). */
  oneRun(key: string): number {
    const f = this.figures(key);
    const oldest = Math.floor(this.now() / (this.windowMs / SLOTS)) - SLOTS;
    let min = Number.POSITIVE_INFINITY;
    for (const s of f.slots) if (s.slot > oldest && s.min < min) min = s.min;
    return Number.isFinite(min) ? min : 0;
  }
}
