// Stage 5, rate limit: per (subject, domain) token buckets at this pod's share of the policy,
// callsPerMinute x auth.rateShare (the operator sets 1/replicas); 429 with Retry-After beyond
// it, counted per domain.

import type { Counter } from 'prom-client';
import { SidecarError } from '../errors.js';
import type { RateLimiter } from '../rate-limiter.js';
import type { Policy } from './authz.js';

export class RateGate {
  constructor(
    readonly limiter: RateLimiter,
    private readonly limited: Counter<'domain'>,
  ) {}

  /** Takes one call of `subject` under `policy`; 429 `rate_limited` when its bucket is empty. */
  take(subject: string, policy: Policy, share: number): void {
    const decision = this.limiter.take(subject, policy.domain, policy.callsPerMinute * share);
    if (decision.ok) return;
    this.limited.labels(policy.domain).inc();
    throw new SidecarError('rate_limited', `rate limit of ${policy.callsPerMinute} calls per minute exceeded for ${policy.domain}`, {
      retryAfterSeconds: decision.retryAfterSeconds,
    });
  }
}
