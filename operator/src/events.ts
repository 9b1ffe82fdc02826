// Kubernetes Events (core/v1) on a PaddleService for significant transitions. Callers record
// only on transitions (Ready flips, a new blocking reason, a scale step), so a PaddleService
// stuck on one problem produces one Event, not one per reconcile.

import { randomBytes } from 'node:crypto';
import type { PaddleService } from '../../crds/src/index.js';
import type { KubeClient } from './kube-client.js';
import { collectionPath } from './kube-client.js';
import { RESOURCES } from './resources.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(ps: PaddleService, type: EventType, reason: string, message: string): Promise<void>;
}

/** Events written at once at most; more are dropped (and reported) rather than queued without bound. */
export const MAX_EVENTS_IN_FLIGHT = 256;

/**
 * Writes each Event in the background: the reconcile that records it does not wait for the
 * write (a round trip to the API server per transition, which at 1000 PaddleServices on a
 * busy API server held a worker for up to a second). Events are best effort, as client-go's
 * recorder makes them.
 */
export class KubeEventRecorder implements EventRecorder {
  #inFlight = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly instance: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Events still being written. */
  get inFlight(): number {
    return this.#inFlight;
  }

  record(ps: PaddleService, type: EventType, reason: string, message: string): Promise<void> {
    if (this.#inFlight >= MAX_EVENTS_IN_FLIGHT) {
      this.onError(new Error(`Event ${reason} on ${ps.metadata.namespace}/${ps.metadata.name} dropped: ${this.#inFlight} Events are being written`));
      return Promise.resolve();
    }
    this.#inFlight++;
    void this.#write(ps, type, reason, message).finally(() => this.#inFlight--);
    return Promise.resolve();
  }

  async #write(ps: PaddleService, type: EventType, reason: string, message: string): Promise<void> {
    const ns = ps.metadata.namespace ?? 'default';
    const now = new Date().toISOString();
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${ps.metadata.name}.${Date.now().toString(16)}${randomBytes(2).toString('hex')}`, namespace: ns },
      involvedObject: {
        apiVersion: ps.apiVersion,
        kind: ps.kind,
        name: ps.metadata.name,
        namespace: ns,
        uid: ps.metadata.uid,
        resourceVersion: ps.metadata.resourceVersion,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
      action: reason,
      firstTimestamp: now,
      lastTimestamp: now,
      eventTime: null,
      count: 1,
    };
    try {
      await this.client.create(collectionPath(RESOURCES.event, ns), event, { metadataOnly: true });
    } catch (err) {
      // An Event that cannot be written must never fail a reconcile.
      this.onError(err);
    }
  }
}
