// What a gRPC call's answer carries besides its message, for the handlers (server.ts) and the
// refusals before them (early-access.ts): the initial metadata (request id, traceparent) and a
// refusal's status (its code, message and Retry-After as `retry-after` trailing metadata).

import { Metadata, type MetadataValue, type status as Status } from '@grpc/grpc-js';
import type { SidecarError } from '../errors.js';
import { grpcStatusOf } from './status.js';

/**
 * The answer's initial metadata, x-request-id and traceparent, handed to grpc-js as the headers
 * it sends (toHttp2Headers, what grpc-js's sendMetadata reads) without Metadata.set's per-call
 * key and value checks (two regular expressions per entry). Both values are legal header values
 * by construction: the request id is the caller's only when it matches [A-Za-z0-9._-]{1,128}
 * (pipeline/context.ts), else a UUID; the traceparent is version, hex ids and flags joined by
 * dashes. get() and getMap() answer the same two entries.
 */
export class ReplyMetadata extends Metadata {
  constructor(
    private readonly requestId: string,
    private readonly traceparent: string,
  ) {
    super();
  }

  override toHttp2Headers(): { 'x-request-id': string; traceparent: string } {
    return { 'x-request-id': this.requestId, traceparent: this.traceparent };
  }

  override getMap(): { [key: string]: MetadataValue } {
    return this.toHttp2Headers();
  }

  override get(key: string): MetadataValue[] {
    const k = key.toLowerCase();
    return k === 'x-request-id' ? [this.requestId] : k === 'traceparent' ? [this.traceparent] : [];
  }
}

/** The status a refused call ends with: the code for its HTTP-style status, its message, `retry-after` when it has one. */
export function refusalStatus(e: SidecarError): { code: Status; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  if (e.retryAfterSeconds !== undefined) metadata.set('retry-after', String(e.retryAfterSeconds));
  return { code: grpcStatusOf(e.httpStatus), details: e.message, metadata };
}
