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
// An answer is held the same way from the other side: grpc-js writes it into the HTTP/2 stream,
// which sends it as the client's flow-control window allows, and a client that never opens its
// window (or stopped reading) still answers the keepalive pings, so its streams and their answers
// stayed for as long as it liked (200 connections x 100 streams: ~240 MB, indefinitely). So:
//   - a call keeps its place until its client has taken the answer (grpc-js reports the end of the
//     call once its trailers are out), not only until the handler answered;
//   - a connection with an answer waiting since an earlier check must have written at the same
//     floor over the window since, else it is closed (counted `slow`), which ends its streams;
//   - when the bound is full and nothing is still receiving, the connection of the lane's oldest
//     answer not taken for more than a window is closed to make room.
// The methods that need no token (`openMethods`: health, metadata, config) have places of their
// own, so callers without a token cannot take ModelInfer's; a ModelInfer caller without a valid
// token or over its rate is refused when its metadata arrives (early-access.ts) and holds no place.
// Known limit: the bound counts calls, not bytes, so a client that opens about a lane's number of
// new calls every window keeps that lane full of young calls: with auth on, ModelInfer's takes a
// valid token within its rate; for the open methods, and with auth off, per-client limits
// upstream are the defense (a flood of connections is met at the listener's cap, connections.ts).

import { type Metadata, ServerInterceptingCall, type ServerInterceptor, status as Status } from '@grpc/grpc-js';
import type { Socket } from 'node:net';
import { abandon } from '../connections.js';
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

/**
 * A call the bound watches: from its start while its request message has not arrived whole (in
 * `receiving`), then from its answer until its client has taken it (in `answering`): grpc-js hands
 * the answer to the HTTP/2 stream, which sends it as the client's flow-control window allows,
 * then the trailers; the stream stays open (and its answer in memory) until then.
 */
interface Watched {
  call: InnerCall;
  /** Its lane while it holds a place there (undefined once it gave the place back, or never had one). */
  lane: Lane | undefined;
  /** Its method's path, and its metadata once it came (for the answer's access line). */
  route: string;
  md: Metadata | undefined;
  /** When a check first saw it in its current set (its age, for makeRoom): no clock read per call. */
  seenAt: number | undefined;
  /** Its connection's bytes written when a check saw its answer waiting (the stall window). */
  written: number;
  /** Gives the call's place back and ends the watch (once): the call's end (its answer taken, or its stream closed). */
  release: () => void;
  /** Moves it to the answer's watch, before the answer goes out; a call answered before its message was read (a refusal, an eviction) gives its place back at once. */
  answered: () => void;
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
  const receiving = new Set<Watched>();
  const answering = new Set<Watched>();
  /** Each watched connection's bytes read when its current window began. */
  const windows = new Map<Socket, PaceWindow>();

  /** Closes a connection that fell behind (its calls end), counted once however many of its calls did. */
  const closeSlow = (socket: Socket): void => {
    if (socket.destroyed) return;
    o.onSlowConnection?.();
    // A reset: the answers it did not take are dropped by the kernel too (connections.ts).
    abandon(socket);
  };

  const check = (): void => {
    const t = now();
    for (const a of answering) {
      const socket = o.socketOf?.(a.call.getPeer());
      if (socket === undefined || socket.destroyed) continue;
      // An answer that waited since an earlier check: its connection must have written at the
      // body pace meanwhile (a large answer to a slow reader moves; one whose client never opens
      // its window, or stopped reading, does not), else it is closed, which ends its streams.
      if (a.seenAt !== undefined && a.seenAt < t && slowRate({ bytes: a.written, at: a.seenAt }, socket.bytesWritten, t, pace) !== undefined) {
        closeSlow(socket);
        continue;
      }
      if (a.seenAt === undefined || t - a.seenAt >= pace.windowMs * 0.9) {
        a.seenAt = t;
        a.written = socket.bytesWritten;
      }
    }
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
        closeSlow(socket);
      }
    }
  };
  const ticker = new PaceTicker(pace.windowMs, () => receiving.size > 0 || answering.size > 0, check);

  /** The lane's oldest entry (a Set keeps insertion order). */
  const oldestOf = (set: Set<Watched>, lane: Lane): Watched | undefined => {
    for (const r of set) if (r.lane === lane) return r;
    return undefined;
  };

  /**
   * Closes the lane's oldest call still receiving after more than a window, else the connection
   * of its oldest answer not taken for more than a window; false when there is neither.
   */
  const makeRoom = (lane: Lane): boolean => {
    const t = now();
    const first = oldestOf(receiving, lane);
    if (first === undefined || !seenWindowAgo(first.seenAt, t, pace)) {
      // A client that does not take its answers (an HTTP/2 window it never opens, a connection
      // it stopped reading) still answers the keepalive pings: only closing its connection ends
      // the streams its answers wait on (grpc-js has no way to reset one stream).
      const stalled = oldestOf(answering, lane);
      const socket = stalled === undefined || !seenWindowAgo(stalled.seenAt, t, pace) ? undefined : o.socketOf?.(stalled.call.getPeer());
      if (stalled === undefined || socket === undefined) return false;
      stalled.release();
      closeSlow(socket);
      return true;
    }
    first.answered(); // its place back, out of the receiving set
    const e = new SidecarError('request_timeout', `request message still incomplete after more than ${(pace.windowMs / 1000).toFixed(1)} s while newer calls waited for room: the oldest incomplete calls are closed first when the open-call bound is full`);
    // Its metadata came in the same tick as its start (grpc-js hands it over as the call starts).
    if (first.md) o.end(first.route, first.md, first.call, e);
    else first.call.sendStatus({ code: Status.DEADLINE_EXCEEDED, details: e.message });
    return true;
  };

  const { onMetadata, end } = o;
  const bound = (method: { path: string }, call: InnerCall): ServerInterceptingCall => {
    const lane = laneOf(method.path);
    /** 0: not watched, 1: receiving its message, 2: its answer waiting to be taken, 3: ended. */
    let stage = 0;
    /** Its place in its lane back (once). */
    const giveBack = (): void => {
      if (w.lane === undefined) return;
      w.lane.open--;
      w.lane = undefined;
    };
    const release = (): void => {
      if (stage === 1) receiving.delete(w);
      else if (stage === 2) answering.delete(w);
      stage = 3;
      giveBack();
    };
    // Called before the answer goes out: grpc-js reports the call's end (onCancel: release) later.
    const answered = (): void => {
      if (stage >= 2) return;
      // Answered while its message was still unread: refused (the early access check) or evicted.
      if (stage === 1) {
        receiving.delete(w);
        giveBack();
      }
      w.seenAt = undefined;
      stage = 2;
      answering.add(w);
      ticker.wake();
    };
    const w: Watched = { call, lane: undefined, route: method.path, md: undefined, seenAt: undefined, written: 0, release, answered };
    return new ServerInterceptingCall(call, {
      start: (next) => {
        const limit = lane.max();
        if (lane.open >= limit && !makeRoom(lane)) {
          const e = new SidecarError('overloaded', `server busy: ${lane.open} calls open, ${lane.limitText(limit)}`, { retryAfterSeconds: 1 });
          // Answered from its metadata (it comes at once, the message is never read).
          next({
            onReceiveMetadata: (md) => {
              answered();
              end(method.path, md, call, e);
            },
            onCancel: release,
          });
          return;
        }
        lane.open++;
        w.lane = lane;
        stage = 1;
        receiving.add(w);
        ticker.wake();
        next({
          onReceiveMetadata: (md, pass) => {
            w.md = md;
            onMetadata(method.path, md, call, pass, answered);
          },
          // grpc-js calls it once the answer's trailers are sent (the client took the answer) or
          // the stream closed: the call holds its place until then.
          onCancel: release,
          onReceiveMessage: (message, nextMessage) => {
            if (stage === 1) {
              receiving.delete(w);
              stage = 0;
            }
            nextMessage(message);
          },
        });
      },
      // grpc-js sends a unary call's status only once its answer's bytes are written out, which a
      // client that never opens its window holds back: the answer is what starts the watch.
      sendMessage: (message, next) => {
        answered();
        next(message);
      },
      sendStatus: (status, next) => {
        answered();
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
