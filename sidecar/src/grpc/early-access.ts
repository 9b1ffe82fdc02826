// A guarded gRPC call's access check (token, default-deny policy, rate limit) as soon as its
// metadata arrives, before its request message is read: the REST front end's order (the token is a
// header, checked before a byte of the body is buffered).
//
// grpc-js reads a call's message only when the handler asks for it (the stream stays paused until
// then), so holding the metadata back until the check is done keeps a caller without a valid token
// from having a message buffered, decoded or held: without it, 129 unauthenticated calls that each
// sent part of a message held every place of the open-call bound (call-bound.ts), every other call
// was refused, and the token was looked at only once a whole message had arrived. A refused call
// is answered at once (UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED with retry-after),
// with the request id and traceparent, its access line, audit record and failure count, exactly
// as the handler's own refusal was.
//
// An admitted call's pipeline call is handed to the method's handler (take(): it rides on the
// metadata object grpc-js passes on to it), which then skips its own check: one token check and
// one rate-limit take per call. A call the bound refuses or evicts before its handler runs is
// answered through end(), with its access line; one the client cancels, or whose connection
// closes, before its message arrives never reaches a handler and leaves no access line, as before.

import type { Metadata, ServerInterceptor } from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http';
import type { CallCore, CallHandle } from '../call-core.js';
import { refusalStatus, ReplyMetadata } from './reply.js';

type InnerCall = Parameters<ServerInterceptor>[1];

/**
 * Runs when a call's metadata arrives, before its message is read: calls `pass` to go on, or
 * answers the call itself, calling `answered` first (its place in the bound comes back at once, and
 * the bound watches the answer until the client takes it).
 * The open-call bound's interceptor runs it (call-bound.ts), so a call goes through one
 * interceptor, not two.
 */
export type MetadataStage = (methodPath: string, md: Metadata, call: InnerCall, pass: (md: Metadata) => void, answered: () => void) => void;

export interface EarlyAccessOptions {
  core: CallCore;
  /** The policy path guarding a method (its full path, /package.Service/Method); undefined for an open one. */
  policyOf: (methodPath: string) => string | undefined;
  /** The metadata as lower-case HTTP-style headers. */
  headersOf: (md: Metadata) => IncomingHttpHeaders;
  /** The client address of a grpc-js peer string. */
  addressOf: (peer: string) => string;
  /** An object that lives as long as the peer's connection (keys the token cache), if known. */
  connectionOf?: (peer: string) => object | undefined;
}

export interface EarlyAccess {
  stage: MetadataStage;
  /** The admitted call opened for this metadata (once), or undefined when none was. */
  take(md: Metadata): CallHandle | undefined;
  /**
   * Answers a call that ends before its handler runs (the open-call bound's refusal or eviction)
   * with `err`, as a refusal here is answered: the admitted call, or one opened from the metadata,
   * gets its access line, audit record and failure count.
   */
  end(route: string, md: Metadata, inner: InnerCall, err: unknown): void;
}

/** Where an admitted call waits for its handler: on the metadata object grpc-js hands on to it. */
const ADMITTED = Symbol('paddle.grpc.admitted');
type Carrying = Metadata & { [ADMITTED]?: CallHandle | undefined };

export function earlyAccess(o: EarlyAccessOptions): EarlyAccess {
  const core = o.core;

  /** Answers a refused call at once and ends its pipeline call (access line, audit, failure count). */
  const refuse = (inner: InnerCall, route: string, call: CallHandle, err: unknown, answered?: () => void): void => {
    const e = core.fail(call, err);
    // Before the answer goes out: the bound then watches it until the client takes it.
    answered?.();
    // The ids in the initial metadata, Retry-After in the trailers: as the handler's refusals.
    inner.sendMetadata(new ReplyMetadata(call.requestId, core.traceparent(call)));
    inner.sendStatus(refusalStatus(e));
    core.close(call, e.httpStatus, route, 'POST');
  };

  const stage: MetadataStage = (route, md, inner, pass, answered) => {
    const policyPath = o.policyOf(route);
    if (policyPath === undefined) return pass(md);
    const headers = o.headersOf(md);
    const peer = inner.getPeer();
    const address = o.addressOf(peer);
    const call = core.open('POST', route, headers, address);
    let pending: void | Promise<void>;
    try {
      pending = core.authorize(call, policyPath, headers.authorization, o.connectionOf?.(peer), address);
    } catch (err) {
      refuse(inner, route, call, err, answered);
      return;
    }
    if (pending) {
      pending.then(
        () => {
          (md as Carrying)[ADMITTED] = call;
          pass(md);
        },
        (err: unknown) => refuse(inner, route, call, err, answered),
      );
      return;
    }
    (md as Carrying)[ADMITTED] = call;
    pass(md);
  };

  const take = (md: Metadata): CallHandle | undefined => {
    const call = (md as Carrying)[ADMITTED];
    if (call !== undefined) (md as Carrying)[ADMITTED] = undefined;
    return call;
  };

  return {
    stage,
    take,
    end: (route, md, inner, err) => refuse(inner, route, take(md) ?? core.open('POST', route, o.headersOf(md), o.addressOf(inner.getPeer())), err),
  };
}
