// Leader election on a coordination.k8s.io Lease, following client-go's algorithm:
// - the holder renews the lease every retryPeriod; if it cannot renew for renewDeadline it
//   steps down (stops reconciling) and becomes a candidate again;
// - a candidate takes the lease over when it has observed the same record, unchanged, for
//   leaseDuration on its OWN clock (so clock skew between nodes does not matter);
// - every write carries the resourceVersion it read, so two candidates cannot both win.
// The Lease is read and written through a LeaseStore; the Kubernetes one is in lease-store.ts,
// tests use an in-memory one.

import { realClock, type Clock } from './clock.js';

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
  /** Opaque version for optimistic concurrency; set by the store. */
  resourceVersion?: string;
}

export class LeaseConflictError extends Error {
  override readonly name = 'LeaseConflictError';
}

export interface LeaseStore {
  /** The current record, or undefined when no lease exists. */
  get(): Promise<LeaseRecord | undefined>;
  /** Creates the lease; throws LeaseConflictError when it already exists. */
  create(record: LeaseRecord): Promise<LeaseRecord>;
  /** Replaces the lease if `record.resourceVersion` is current; otherwise LeaseConflictError. */
  update(record: LeaseRecord): Promise<LeaseRecord>;
}

export interface LeaderElectionConfig {
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  store: LeaseStore;
  clock?: Clock;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
  onNewLeader?: (identity: string | undefined) => void;
  onError?: (err: unknown) => void;
}

export class LeaderElector {
  readonly #cfg: LeaderElectionConfig;
  readonly #clock: Clock;
  #observed: LeaseRecord | undefined;
  #observedAt = 0;
  #lastRenew = 0;
  #leading = false;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(cfg: LeaderElectionConfig) {
    if (cfg.renewDeadlineMs >= cfg.leaseDurationMs) throw new Error('renewDeadline must be shorter than leaseDuration');
    if (cfg.retryPeriodMs >= cfg.renewDeadlineMs) throw new Error('retryPeriod must be shorter than renewDeadline');
    this.#cfg = cfg;
    this.#clock = cfg.clock ?? realClock;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  get observedHolder(): string | undefined {
    return this.#observed?.holderIdentity;
  }

  /**
   * One attempt to acquire or renew. Returns true when this candidate holds the lease after the
   * attempt. Errors from the store count as a failed attempt.
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#clock.now();
    const nowIso = new Date(now).toISOString();
    const { identity, leaseDurationMs } = this.#cfg;
    const durationS = Math.ceil(leaseDurationMs / 1000);
    let current: LeaseRecord | undefined;
    try {
      current = await this.#cfg.store.get();
    } catch (err) {
      this.#cfg.onError?.(err);
      return false;
    }
    if (!current) {
      const fresh: LeaseRecord = {
        holderIdentity: identity,
        leaseDurationSeconds: durationS,
        acquireTime: nowIso,
        renewTime: nowIso,
        leaseTransitions: 0,
      };
      try {
        this.#observe(await this.#cfg.store.create(fresh), now);
        return true;
      } catch (err) {
        if (!(err instanceof LeaseConflictError)) this.#cfg.onError?.(err);
        return false;
      }
    }

    if (!this.#observed || this.#observed.resourceVersion !== current.resourceVersion) this.#observe(current, now);

    const holder = current.holderIdentity ?? '';
    const heldByMe = holder === identity;
    // The record's own duration governs expiry (the holder may use a different setting).
    const expiryMs = (current.leaseDurationSeconds || durationS) * 1000;
    const expired = holder === '' || this.#observedAt + expiryMs <= now;
    if (!heldByMe && !expired) return false;

    const next: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: durationS,
      acquireTime: heldByMe ? current.acquireTime : nowIso,
      renewTime: nowIso,
      leaseTransitions: heldByMe ? current.leaseTransitions : current.leaseTransitions + 1,
      resourceVersion: current.resourceVersion,
    };
    try {
      this.#observe(await this.#cfg.store.update(next), now);
      return true;
    } catch (err) {
      if (!(err instanceof LeaseConflictError)) this.#cfg.onError?.(err);
      return false;
    }
  }

  /** Runs the election until stop(): acquire, lead while renewing, step down, repeat. */
  start(): void {
    if (this.#loop) return;
    this.#stopped = false;
    this.#loop = this.#run();
  }

  /** Stops the loop; a leader steps down and releases the lease so a peer takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
    if (this.#leading) {
      await this.#stepDown();
      await this.release();
    }
  }

  /** Gives the lease up (holder cleared, 1 s duration) if this candidate holds it. */
  async release(): Promise<void> {
    try {
      const current = await this.#cfg.store.get();
      if (!current || current.holderIdentity !== this.#cfg.identity) return;
      const nowIso = new Date(this.#clock.now()).toISOString();
      await this.#cfg.store.update({
        ...current,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        renewTime: nowIso,
      });
    } catch (err) {
      this.#cfg.onError?.(err);
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const ok = await this.tryAcquireOrRenew();
      const now = this.#clock.now();
      if (ok) {
        this.#lastRenew = now;
        if (!this.#leading) {
          this.#leading = true;
          this.#cfg.onNewLeader?.(this.#cfg.identity);
          await this.#cfg.onStartedLeading();
        }
      } else if (this.#leading) {
        const holder = this.#observed?.holderIdentity;
        const lostToPeer = holder !== undefined && holder !== '' && holder !== this.#cfg.identity;
        if (lostToPeer || now - this.#lastRenew >= this.#cfg.renewDeadlineMs) await this.#stepDown();
      }
      if (this.#stopped) break;
      await this.#sleep(this.#cfg.retryPeriodMs);
    }
  }

  async #stepDown(): Promise<void> {
    if (!this.#leading) return;
    this.#leading = false;
    await this.#cfg.onStoppedLeading();
  }

  #observe(record: LeaseRecord, now: number): void {
    const prevHolder = this.#observed?.holderIdentity;
    this.#observed = record;
    this.#observedAt = now;
    if (prevHolder !== record.holderIdentity && record.holderIdentity !== this.#cfg.identity) {
      this.#cfg.onNewLeader?.(record.holderIdentity || undefined);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.#clock.setTimer(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        this.#clock.clearTimer(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
