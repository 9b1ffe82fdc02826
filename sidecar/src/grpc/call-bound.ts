// The gRPC front end's bound on calls open at once, and the pace their request messages must
// keep. grpc-js buffers a call's request message until it is complete, before any handler, token
// check or interceptor sees it; the per-connection stream limit bounds one connection and this
// bound all of them (10 connections x 100 streams of 1 MB less a byte pinned 1.2 GB, to
// ModelInfer or any other method alike).
//
// A bound on calls is a lever for a client that opens calls and then sends nothing: 140 such calls
// (1 KB of each message, then silence, ~140 KB in all) held every place, and every gRPC call,
// ServerLive included, was refused UNAVAILABLE for as long as their connections lived (a
// connection with calls open is never idle, and the HTTP/2 stack answers the keepalive pings).
// So, with the REST body's pace (pace.ts):
//   - a connection whose calls are still receiving their message must keep receiving
//     `minRateBytesPerSecond` per such call over every window: slower, the connection is closed
//     (all its calls end; counted as paddle_connections_closed_total{listener="grpc",reason="slow"});
//   - when the bound is full at a call's start, the calls still receiving their message that a
//     check saw at least a window ago give way, oldest first (DEADLINE_EXCEEDED), before the new
//     call is refused (UNAVAILABLE + retry-after).
// The methods that need no token (`openMethods`: health, metadata, config) have places of their
// own, so callers without a token cannot take ModelInfer's; a ModelInfer caller without a valid
// token or over its rate is refused when its metadata arrives (early-access.ts) and holds no place.
// Known limit: the bound counts calls, not bytes, so a client that opens about a lane's number of
// new calls every window keeps that lane full of young calls: with auth on, ModelInfer's takes a
// valid token within its rate; for the open methods, and with auth off, per-client limits
// upstream are the defense, as for a connection flood.

import { type Metadata, ServerInterceptingCall, type ServerInterceptor, status as Status } from '@grpc/grpc-js';
import type { Socket } from 'node:net';
import { SidecarError } from '../errors.js';
import { BODY_PACE_DEFAULTS, type BodyPace, PaceTicker, type PaceWindow, seenWindowAgo, slowRate } from '../pace.js';
import type { MetadataStage } from './early-access.js';

type InnerCall = Parameters<ServerInterceptor>[1];

/** A share of the bound: the calls it holds now and how many it may. */
interface Lane {
  open: number;
  max: () => number;
  /** What the refusal says of the limit. */
  limitText: (max: number) => string;
}

/** A call whose request message has not arrived whole yet. */
interface Receiving {
  call: InnerCall;
  lane: Lane;
  /** Its method's path, and its metadata once it came (for the answer's access line). */
  route: string;
  md: Metadata | undefined;
  /** When the first check saw it (its age, for makeRoom): no clock read per call. */
  seenAt: number | undefined;
  /** Gives the call's place back (once). */
  release: () => void;
}

export interface CallBoundOptions {
  /** Calls that may be open at once (the run queue's capacity). */
  max: () => number;
  /**
   * The methods that need no token (health, metadata) and their own, smaller bound: sharing `max`
   * with the guarded ones, a caller without a token could fill it with partial messages to them
   * and have every ModelInfer refused.
   */
  openMethods: { is: (path: string) => boolean; max: number };
  pace?: BodyPace;
  /** The connection behind a peer string (the listener's own sockets); closing it ends its calls. */
  socketOf?: (peer: string) => Socket | undefined;
  /** Counts a connection closed for receiving too slowly. */
  onSlowConnection?: () => void;
  /** Runs on each admitted call's metadata before its message is read (early-access.ts). */
  onMetadata: MetadataStage;
  /** Answers a call refused or evicted here, from its metadata (request id, access line, failure count: early-access.ts). */
  end: (route: string, md: Metadata, call: InnerCall, err: SidecarError) => void;
  now?: () => number;
}

export interface CallBound extends ServerInterceptor {
  /** Calls open now. */
  open(): number;
  /** Calls still receiving their request message that a check saw at least a window ago (they give way when the bound is full). */
  oldReceiving(): number;
}

export function openCallBound(o: CallBoundOptions): CallBound {
  const pace = o.pace ?? BODY_PACE_DEFAULTS;
  const now = o.now ?? (() => performance.now());
  const guarded: Lane = { open: 0, max: o.max, limitText: (max) => `the run queue holds ${max}` };
  const openLane: Lane = { open: 0, max: () => o.openMethods.max, limitText: (max) => `at most ${max} calls to the methods that need no token` };
  const laneOf = (path: string): Lane => (o.openMethods.is(path) ? openLane : guarded);
  /** Oldest first (a Set keeps insertion order). */
  const receiving = new Set<Receiving>();
  /** Each watched connection's bytes read when its current window began. */
  const windows = new Map<Socket, PaceWindow>();

  const check = (): void => {
    const t = now();
    const calls = new Map<Socket, number>();
    for (const r of receiving) {
      r.seenAt ??= t;
      // grpc-js's peer string ("address:port") names the connection the call came on.
      const socket = o.socketOf?.(r.call.getPeer());
      if (socket) calls.set(socket, (calls.get(socket) ?? 0) + 1);
    }
    for (const socket of windows.keys()) if (!calls.has(socket)) windows.delete(socket);
    for (const [socket, n] of calls) {
      const w = windows.get(socket);
      if (!w) {
        windows.set(socket, { bytes: socket.bytesRead, at: t });
        continue;
      }
      if (slowRate(w, socket.bytesRead, t, pace, n) !== undefined) {
        windows.delete(socket);
        o.onSlowConnection?.();
        socket.destroy();
      }
    }
  };
  const ticker = new PaceTicker(pace.windowMs, () => receiving.size > 0, check);

  /** Closes the lane's oldest call still receiving after more than a window; false when there is none. */
  const makeRoom = (lane: Lane): boolean => {
    let first: Receiving | undefined;
    for (const r of receiving) {
      if (r.lane !== lane) continue;
      first = r;
      break;
    }
    if (first === undefined || !seenWindowAgo(first.seenAt, now(), pace)) return false;
    first.release(); // out of the receiving set too
    const e = new SidecarError('request_timeout', `request message still incomplete after more than ${(pace.windowMs / 1000).toFixed(1)} s while newer calls waited for room: the oldest incomplete calls are closed first when the open-call bound is full`);
    // Its metadata came in the same tick as its start (grpc-js hands it over as the call starts).
    if (first.md) o.end(first.route, first.md, first.call, e);
    else first.call.sendStatus({ code: Status.DEADLINE_EXCEEDED, details: e.message });
    return true;
  };

  const { onMetadata, end } = o;
  const bound = (method: { path: string }, call: InnerCall): ServerInterceptingCall => {
    const lane = laneOf(method.path);
    let counted = false;
    let pending: Receiving | undefined;
    const received = (): void => {
      if (pending) receiving.delete(pending);
      pending = undefined;
    };
    const release = (): void => {
      received();
      if (counted) {
        counted = false;
        lane.open--;
      }
    };
    return new ServerInterceptingCall(call, {
      start: (next) => {
        const limit = lane.max();
        if (lane.open >= limit && !makeRoom(lane)) {
          const e = new SidecarError('overloaded', `server busy: ${lane.open} calls open, ${lane.limitText(limit)}`, { retryAfterSeconds: 1 });
          // Answered from its metadata (it comes at once, the message is never read).
          next({ onReceiveMetadata: (md) => end(method.path, md, call, e) });
          return;
        }
        lane.open++;
        counted = true;
        pending = { call, lane, route: method.path, md: undefined, seenAt: undefined, release };
        receiving.add(pending);
        ticker.wake();
        next({
          onReceiveMetadata: (md, pass) => {
            if (pending) pending.md = md;
            onMetadata(method.path, md, call, pass, release);
          },
          onCancel: release,
          onReceiveMessage: (message, nextMessage) => {
            received();
            nextMessage(message);
          },
        });
      },
      sendStatus: (status, next) => {
        release();
        next(status);
      },
    });
  };
  const oldReceiving = (): number => {
    const t = now();
    let n = 0;
    for (const r of receiving) if (seenWindowAgo(r.seenAt, t, pace)) n++;
    return n;
  };
  return Object.assign(bound, { open: () => guarded.open + openLane.open, oldReceiving });
}
