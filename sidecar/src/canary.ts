// Traffic dyeing, CHECKLIST 4.3: the test group of a request. An explicit `X-Test-Group:
// control|treatment` header wins; without one, a request goes to treatment with probability
// `canary.treatmentPercent`, decided by a stable hash of the caller's key (the token subject once
// it is verified, else the client address), so one caller stays in one group while the percent
// is unchanged, and raising the percent only moves callers from control to treatment.

import type { TestGroup } from './breaker.js';

/** The group named by an `X-Test-Group` header value, or undefined when absent or unknown. */
export function groupFromHeader(v: string | undefined): TestGroup | undefined {
  if (v === undefined) return undefined;
  if (v === 'treatment' || v === 'control') return v;
  const l = v.toLowerCase();
  return l === 'treatment' || l === 'control' ? l : undefined;
}

/** FNV-1a (32 bit) over the UTF-16 code units of `key`, mapped to [0, 10000). */
export function canaryBucket(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // A final avalanche so keys differing only in their last characters spread evenly.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) % 10000;
}

/** The group for a caller without an explicit header (percent 0..100, undefined = 0). */
export function assignGroup(key: string, treatmentPercent: number | undefined): TestGroup {
  const p = treatmentPercent ?? 0;
  if (p <= 0) return 'control';
  if (p >= 100) return 'treatment';
  return canaryBucket(key) < Math.round(p * 100) ? 'treatment' : 'control';
}
