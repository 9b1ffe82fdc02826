// Giving memory back after a large answer. A large response leaves big, now unreferenced
// strings and buffers on the heap, and V8 collects them only when allocation pressure asks for
// it: on an otherwise quiet pod that may be never, so RSS stays at its peak. After a large
// answer has gone out, one full collection is asked for (at most one per `minGapMs`), using
// V8's own gc function made reachable through its --expose-gc flag.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;
let last = 0;
let scheduled = false;

function collector(): () => void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  return gc;
}

/**
 * Replaces the function that runs a full collection (tests count the collections instead of
 * running them: whether V8 collects an object at a given moment on its own is its heuristics',
 * not this module's); undefined goes back to V8's. Returns the one it replaced.
 */
export function setCollector(fn: (() => void) | undefined): (() => void) | undefined {
  const previous = gc;
  gc = fn;
  return previous;
}

/** One full collection of this thread's heap, now (also in worker threads: each has its own). */
export function collectNow(): void {
  collector()();
}

/** Asks for one full collection soon (after the current I/O), at most once per `minGapMs`. */
export function releaseMemorySoon(minGapMs = 2000): void {
  if (scheduled) return;
  const wait = Math.max(50, last + minGapMs - Date.now());
  scheduled = true;
  setTimeout(() => {
    scheduled = false;
    last = Date.now();
    collector()();
    // Buffers owned by the addon are freed by finalizers that run after the first collection;
    // a second one a moment later returns what they released.
    setTimeout(() => collector()(), 1000).unref();
  }, wait).unref();
}
