// A guarded gRPC call's access check (token, default-deny policy, rate limit) as soon as its
// metadata arrives, before its request message is read: the REST front end's order (the token is a
// header, checked before a byte of the body is buffered).
//
// grpc-js reads a call's message only when the handler asks for it (the stream stays paused until
// then), so holding the metadata back until the check is done keeps a caller without a valid token
// from having a message buffered, decoded or held: without it, 129 unauthenticated calls that each
// sent part of a 4 MB message held every place of the open-call bound (call-bound.ts) and up to the
// message limit each, and the token was looked at only once the whole message had arrived. A
// refused call is answered at once (UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED with
// retry-after), with the request id and traceparent, its access line, audit record and failure
// count, exactly as the handler's own refusal was.
//
// An admitted call's pipeline call is handed to the method's handler (take(), keyed by the
// metadata object grpc-js passes on to it), which then skips its own check: one token check and one
// rate-limit take per call. A call that ends before its message arrives (cancelled, evicted by the
// bound, its connection closed) never reaches a handler; it leaves no access line, as before.

import { Metadata, ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http';
import type { CallCore, CallHandle } from '../call-core.js';
import { grpcStatusOf } from './status.js';

type InnerCall = Parameters<ServerInterceptor>[1];

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

export interface EarlyAccess extends ServerInterceptor {
  /** The admitted call opened for this metadata (once), or undefined when none was. */
  take(md: Metadata): CallHandle | undefined;
}

export function earlyAccess(o: EarlyAccessOptions): EarlyAccess {
  const core = o.core;
  const admitted = new WeakMap<Metadata, CallHandle>();

  /** Answers a refused call at once and ends its pipeline call (access line, audit, failure count). */
  const refuse = (inner: InnerCall, route: string, call: CallHandle, err: unknown): void => {
    const e = core.fail(call, err);
    // The ids in the initial metadata, Retry-After in the trailers: as the handler's refusals.
    const initial = new Metadata();
    initial.set('x-request-id', call.requestId);
    initial.set('traceparent', core.traceparent(call));
    inner.sendMetadata(initial);
    const trailers = new Metadata();
    if (e.retryAfterSeconds !== undefined) trailers.set('retry-after', String(e.retryAfterSeconds));
    inner.sendStatus({ code: grpcStatusOf(e.httpStatus), details: e.message, metadata: trailers });
    core.close(call, e.httpStatus, route, 'POST');
  };

  const interceptor = (method: { path: string }, inner: InnerCall): ServerInterceptingCall => {
    const policyPath = o.policyOf(method.path);
    if (policyPath === undefined) return new ServerInterceptingCall(inner);
    const route = method.path;
    return new ServerInterceptingCall(inner, {
      start: (next) => {
        next({
          onReceiveMetadata: (md, pass) => {
            const headers = o.headersOf(md);
            const peer = inner.getPeer();
            const address = o.addressOf(peer);
            const call = core.open('POST', route, headers, address);
            const admit = (): void => {
              admitted.set(md, call);
              pass(md);
            };
            let pending: void | Promise<void>;
            try {
              pending = core.authorize(call, policyPath, headers.authorization, o.connectionOf?.(peer), address);
            } catch (err) {
              refuse(inner, route, call, err);
              return;
            }
            if (pending) pending.then(admit, (err: unknown) => refuse(inner, route, call, err));
            else admit();
          },
        });
      },
    });
  };

  return Object.assign(interceptor, {
    take: (md: Metadata): CallHandle | undefined => {
      const call = admitted.get(md);
      if (call !== undefined) admitted.delete(md);
      return call;
    },
  });
}
