// An in-memory LeaseStore with resourceVersion checks, shared by several electors in one test.

import { LeaseConflictError, type LeaseRecord, type LeaseStore } from '../src/leader-election.js';

export class MemoryLease {
  record: LeaseRecord | undefined;
  #version = 0;
  /** When set, every store call from any client fails with this error. */
  failing: Error | undefined;
  writes = 0;

  #nextVersion(): string {
    // Tests may seed `record` directly; versions keep increasing past whatever it carried.
    this.#version = Math.max(this.#version, Number(this.record?.resourceVersion ?? 0)) + 1;
    return String(this.#version);
  }

  client(): LeaseStore {
    return {
      get: async () => {
        if (this.failing) throw this.failing;
        return this.record ? { ...this.record } : undefined;
      },
      create: async (r) => {
        if (this.failing) throw this.failing;
        if (this.record) throw new LeaseConflictError('exists');
        this.writes++;
        this.record = { ...r, resourceVersion: this.#nextVersion() };
        return { ...this.record };
      },
      update: async (r) => {
        if (this.failing) throw this.failing;
        if (!this.record || this.record.resourceVersion !== r.resourceVersion) throw new LeaseConflictError('stale');
        this.writes++;
        this.record = { ...r, resourceVersion: this.#nextVersion() };
        return { ...this.record };
      },
    };
  }
}
