// LeaseStore on a coordination.k8s.io/v1 Lease, with the Lease's resourceVersion as the
// optimistic-concurrency token.

import { isConflict, isNotFound } from './errors.js';
import type { KubeClient } from './kube-client.js';
import { collectionPath, objectPath } from './kube-client.js';
import { LeaseConflictError, type LeaseRecord, type LeaseStore } from './leader-election.js';
import { RESOURCES } from './resources.js';

interface LeaseObject {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Lease times are MicroTime: RFC 3339 with microseconds. */
function microTime(iso: string | undefined): string | undefined {
  return iso?.replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class KubeLeaseStore implements LeaseStore {
  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly name: string,
  ) {}

  async get(): Promise<LeaseRecord | undefined> {
    try {
      const lease = await this.client.get<LeaseObject>(objectPath(RESOURCES.lease, this.namespace, this.name));
      return toRecord(lease);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async create(record: LeaseRecord): Promise<LeaseRecord> {
    try {
      return toRecord(await this.client.create<LeaseObject>(collectionPath(RESOURCES.lease, this.namespace), this.#object(record)));
    } catch (err) {
      if (isConflict(err)) throw new LeaseConflictError('lease already exists');
      throw err;
    }
  }

  async update(record: LeaseRecord): Promise<LeaseRecord> {
    try {
      return toRecord(await this.client.update<LeaseObject>(objectPath(RESOURCES.lease, this.namespace, this.name), this.#object(record)));
    } catch (err) {
      if (isConflict(err)) throw new LeaseConflictError('lease changed since it was read');
      throw err;
    }
  }

  #object(r: LeaseRecord): LeaseObject {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, ...(r.resourceVersion ? { resourceVersion: r.resourceVersion } : {}) },
      spec: {
        holderIdentity: r.holderIdentity ?? '',
        leaseDurationSeconds: r.leaseDurationSeconds,
        ...(r.acquireTime ? { acquireTime: microTime(r.acquireTime) } : {}),
        ...(r.renewTime ? { renewTime: microTime(r.renewTime) } : {}),
        leaseTransitions: r.leaseTransitions,
      },
    };
  }
}

function toRecord(lease: LeaseObject): LeaseRecord {
  return {
    holderIdentity: lease.spec.holderIdentity ?? '',
    leaseDurationSeconds: lease.spec.leaseDurationSeconds ?? 0,
    ...(lease.spec.acquireTime ? { acquireTime: lease.spec.acquireTime } : {}),
    ...(lease.spec.renewTime ? { renewTime: lease.spec.renewTime } : {}),
    leaseTransitions: lease.spec.leaseTransitions ?? 0,
    ...(lease.metadata.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
  };
}
