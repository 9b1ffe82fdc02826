// Per-(subject, domain) token buckets at the policy's calls per minute. The rate given to take()
// is this pod's share of the service-wide policy (the operator sets 1/replicas), so it may be
// below one call per minute; a bucket still holds at least one call, or it would never admit.
// State is bounded: at
// most `maxKeys` buckets live in an LRU (a Map in recency order); the least recently used is
// evicted first, so a flood of distinct tokens cannot exhaust memory. Recency is kept to the
// second: a bucket used again within RECENCY_MS of its last move stays where it is, so a busy
// caller does not re-insert its bucket on every call.

import { type Clock, systemClock } from './clock.js';

interface Bucket {
  tokens: number;
  updatedAt: number;
  /** When the bucket last moved to the recent end of the LRU. */
  movedAt: number;
}

const RECENCY_MS = 1000;

export type RateDecision = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  evictions = 0;

  constructor(
    readonly maxKeys: number = 10000,
    private readonly clock: Clock = systemClock,
  ) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be a positive integer');
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one call for (subject, domain) at `callsPerMinute` (burst = one minute's worth, at least one call). */
  take(subject: string, domain: string, callsPerMinute: number): RateDecision {
    const key = `${domain}\u0000${subject}`;
    const now = this.clock.now();
    const perMs = callsPerMinute / 60000;
    const capacity = Math.max(1, callsPerMinute);
    let bucket = this.buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.updatedAt) * perMs);
      bucket.updatedAt = now;
      if (now - bucket.movedAt >= RECENCY_MS) {
        // Most recently used goes last.
        this.buckets.delete(key);
        this.buckets.set(key, bucket);
        bucket.movedAt = now;
      }
    } else {
      bucket = { tokens: capacity, updatedAt: now, movedAt: now };
      while (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (oldest.done) break;
        this.buckets.delete(oldest.value);
        this.evictions++;
      }
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true, remaining: Math.floor(bucket.tokens) };
    }
    const waitMs = (1 - bucket.tokens) / perMs;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }
}
