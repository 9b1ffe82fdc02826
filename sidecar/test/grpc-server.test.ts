// The gRPC front end's own call handling (grpc/server.ts), with grpc-js's client: the initial
// metadata of an answer (the caller's request id, the server span's traceparent), and a call
// the client cancels while its run is in progress (one access line and audit record with 499,
// the run queue emptied, the server still serving).

import assert from 'node:assert/strict';
import { connect, type Settings } from 'node:http2';
import { credentials, makeGenericClientConstructor, Metadata, type Client, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { createGrpcFrontEnd, MAX_STREAMS_PER_CONNECTION, OPEN_METHOD_CALLS, type GrpcFrontEnd } from '../src/grpc/server.js';
import { inferenceServiceDefinition } from '../src/grpc/service.js';
import { accessLinesOf, MODEL, startHarness, type Harness } from './helpers/harness.js';
import { MLP_FEATURES, MLP_INPUT, ScriptedPredictor } from './helpers/predictors.js';
import { request } from './helpers/http.js';
import { until } from './helpers/until.js';

type Infer = (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: Record<string, unknown>) => void) => ClientUnaryCall;

const REQUEST = {
  model_name: MODEL,
  inputs: [{ name: MLP_INPUT, datatype: 'FP32', shape: [1, MLP_FEATURES] }],
  raw_input_contents: [Buffer.from(new Float32Array(MLP_FEATURES).fill(0.25).buffer)],
};

describe('gRPC front end: answer metadata and cancelled calls', function () {
  this.timeout(120_000);
  let h: Harness;
  let g: GrpcFrontEnd;
  let client: Client;
  let infer: Infer;
  let port: number;
  const p = new ScriptedPredictor();
  before(async () => {
    h = await startHarness({ predictor: p, tls: 'none' });
    g = createGrpcFrontEnd({ core: h.sidecar.core });
    port = await g.listen(0, '127.0.0.1');
    const Ctor = makeGenericClientConstructor(inferenceServiceDefinition(), 'GRPCInferenceService');
    client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure());
    infer = (client as unknown as { ModelInfer: Infer }).ModelInfer.bind(client);
  });
  after(async () => {
    client.close();
    await g.close();
    await h.close();
  });

  const metadata = async (requestId: string): Promise<Metadata> => {
    const md = new Metadata();
    md.set('authorization', `Bearer ${await h.token('model_inference', { sub: 'grpc-user' })}`);
    md.set('x-request-id', requestId);
    return md;
  };

  it('answers the request id and the server span traceparent in the initial metadata', async () => {
    const md = await metadata('grpc-md-1');
    let initial: Metadata | undefined;
    const res = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const call = infer(REQUEST, md, (err, r) => (err ? reject(err) : resolve(r)));
      call.on('metadata', (m: Metadata) => (initial = m));
    });
    assert.equal((res.raw_output_contents as Buffer[]).length, 1);
    assert.ok(initial, 'initial metadata received');
    assert.deepEqual(initial.get('x-request-id'), ['grpc-md-1']);
    const traceparent = String(initial.get('traceparent')[0]);
    assert.match(traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    await until('the access line', () => accessLinesOf('grpc-md-1').length > 0);
    const line = accessLinesOf('grpc-md-1')[0] as Record<string, unknown>;
    assert.equal(line.status, 200);
    assert.equal(traceparent.split('-')[1], line.trace_id, 'the traceparent names the call trace');
  });

  /** Runs ModelInfer; the initial metadata and the error (null when answered). */
  const inferWith = (md: Metadata): Promise<{ initial?: Metadata; error: ServiceError | null }> =>
    new Promise((resolve) => {
      let initial: Metadata | undefined;
      const call = infer(REQUEST, md, (err) => resolve({ initial, error: err }));
      call.on('metadata', (m: Metadata) => (initial = m));
    });

  it('refused calls (no token, wrong scope) answer the same metadata with their refusal', async () => {
    const none = new Metadata();
    none.set('x-request-id', 'grpc-md-unauth');
    const unauth = await inferWith(none);
    assert.equal(unauth.error?.code, 16, 'UNAUTHENTICATED');
    assert.deepEqual(unauth.initial?.get('x-request-id'), ['grpc-md-unauth']);
    assert.match(String(unauth.initial?.get('traceparent')[0]), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const scoped = new Metadata();
    scoped.set('authorization', `Bearer ${await h.token('model_metadata', { sub: 'grpc-user' })}`);
    scoped.set('x-request-id', 'grpc-md-scope');
    const denied = await inferWith(scoped);
    assert.equal(denied.error?.code, 7, 'PERMISSION_DENIED');
    assert.deepEqual(denied.initial?.get('x-request-id'), ['grpc-md-scope']);
  });

  it('a caller request id that is not a plain token is replaced by a fresh one in the answer', async () => {
    // Legal gRPC metadata (printable ASCII), but not [A-Za-z0-9._-]{1,128}: the answer carries
    // the id the access line has, never the caller's text.
    for (const odd of ['has space', 'a/b"c', 'x'.repeat(129)]) {
      const md = await metadata(odd);
      const r = await inferWith(md);
      assert.equal(r.error, null);
      const id = String(r.initial?.get('x-request-id')[0]);
      assert.notEqual(id, odd);
      assert.match(id, /^[0-9a-f-]{36}$/);
      await until('the access line', () => accessLinesOf(id).length > 0);
    }
  });

  it('a call cancelled during its run: one access line and audit record with 499, queue empty, still serving', async () => {
    const md = await metadata('grpc-cancel-1');
    const before = p.calls;
    p.latencyMs = 300;
    let error: ServiceError | undefined;
    const done = new Promise<void>((resolve) => {
      const call = infer(REQUEST, md, (err) => {
        error = err ?? undefined;
        resolve();
      });
      void until('the run to start', () => p.calls > before).then(() => call.cancel());
    });
    await done;
    assert.equal(error?.code, 1, 'the client sees CANCELLED');
    await until('the access line and audit record', () => accessLinesOf('grpc-cancel-1').length > 0 && h.audits.some((a) => a.requestId === 'grpc-cancel-1'));
    p.latencyMs = 0;
    const lines = accessLinesOf('grpc-cancel-1');
    assert.equal(lines.length, 1, 'exactly one access line');
    assert.equal(lines[0]?.status, 499);
    const audit = h.audits.find((a) => a.requestId === 'grpc-cancel-1');
    assert.equal(audit?.status, 499);
    assert.equal(audit?.reason, 'client_closed');
    await until('the run queue to empty', () => h.sidecar.queue.stats().inFlight === 0 && h.sidecar.queue.stats().answering === 0);
    // Still serving.
    const next = await metadata('grpc-after-1');
    const again = await new Promise<Record<string, unknown>>((resolve, reject) => infer(REQUEST, next, (err, r) => (err ? reject(err) : resolve(r))));
    assert.equal((again.raw_output_contents as Buffer[]).length, 1);
  });

  it('a call cancelled while it waits in the run queue never runs (499, queue empty)', async () => {
    const rows = 3; // a shape not served yet: one run slot (short runs of a known shape may overlap)
    const req = { ...REQUEST, inputs: [{ name: MLP_INPUT, datatype: 'FP32', shape: [rows, MLP_FEATURES] }], raw_input_contents: [Buffer.from(new Float32Array(rows * MLP_FEATURES).fill(0.25).buffer)] };
    p.latencyMs = 300;
    const before = p.calls;
    const mdA = await metadata('grpc-queued-a');
    const mdB = await metadata('grpc-queued-b');
    const first = new Promise<ServiceError | null>((resolve) => infer(req, mdA, (err) => resolve(err)));
    await until('the first run to start', () => p.calls > before);
    let error: ServiceError | undefined;
    const second = new Promise<void>((resolve) => {
      const call = infer(req, mdB, (err) => {
        error = err ?? undefined;
        resolve();
      });
      void until('the second call to wait', () => h.sidecar.queue.stats().queued === 1).then(() => call.cancel());
    });
    await second;
    assert.equal(error?.code, 1, 'the client sees CANCELLED');
    await until('the access line', () => accessLinesOf('grpc-queued-b').length > 0);
    assert.equal(await first, null);
    await until('the run queue to empty', () => {
      const s = h.sidecar.queue.stats();
      return s.queued === 0 && s.inFlight === 0 && s.answering === 0;
    });
    await new Promise((r) => setTimeout(r, 100));
    p.latencyMs = 0;
    assert.equal(p.calls, before + 1, 'the cancelled call never reached the predictor');
    assert.equal(accessLinesOf('grpc-queued-b')[0]?.status, 499);
  });

  it('one connection may hold a bounded number of streams (partial messages cannot pin unbounded memory)', async () => {
    // grpc-js buffers a message until it is complete, before any handler or auth: without a
    // stream limit one connection opened thousands of streams of 1 MB less a byte each (1.5 GB
    // of RSS for 1500 streams in a probe of the real process).
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      const settings = await new Promise<Settings>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
      });
      assert.equal(settings.maxConcurrentStreams, MAX_STREAMS_PER_CONNECTION);
      assert.ok(MAX_STREAMS_PER_CONNECTION >= 100 && MAX_STREAMS_PER_CONNECTION <= 128);
    } finally {
      session.destroy();
    }
  });

  it('calls open at once over every connection are bounded by the run queue: the next is refused unread, and the count comes back', async () => {
    // Per-connection stream limits bound one connection; 10 connections x 100 partial 1 MB messages still pinned 1.2 GB,
    // to ModelInfer or ServerLive alike. ServerLive (no token needed) has places of its own.
    const saved = h.sidecar.config();
    await h.sidecar.applyConfig({ ...saved, queue: { maxInFlight: 1, maxQueued: 1, maxQueueTimeMs: 1000 } });
    const sessions = [connect(`http://127.0.0.1:${port}`), connect(`http://127.0.0.1:${port}`), connect(`http://127.0.0.1:${port}`), connect(`http://127.0.0.1:${port}`)];
    // Admitted callers (a caller without a token is refused before its message: early-access.ts).
    const authorization = `Bearer ${await h.token('model_inference', { sub: 'grpc-bound-holder' })}`;
    try {
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(100_000, 1);
      const statuses: (string | undefined)[] = [];
      sessions.forEach((session, i) => {
        session.on('error', () => undefined);
        const method = i === 1 ? 'ServerLive' : 'ModelInfer';
        const st = session.request({ ':method': 'POST', ':path': `/inference.GRPCInferenceService/${method}`, 'content-type': 'application/grpc', te: 'trailers', authorization, 'x-request-id': `grpc-bound-${i}` });
        st.on('error', () => undefined);
        st.on('response', (headers) => (statuses[i] = headers['grpc-status'] as string | undefined));
        st.on('trailers', (trailers) => (statuses[i] = trailers['grpc-status'] as string | undefined));
        st.write(Buffer.concat([prefix, Buffer.alloc(50_000)])); // half a message: the call stays open
      });
      await until('one call refused', () => statuses.some((x) => x !== undefined));
      assert.deepEqual(statuses.filter((x) => x !== undefined), ['14'], 'exactly one UNAVAILABLE, the others still receiving');
      assert.equal(statuses[1], undefined, 'ServerLive kept its own place');
      assert.equal(g.openCalls(), 3);
      // The refusal has its access line (request id, 503), as a REST refusal does.
      const refused = statuses.findIndex((x) => x !== undefined);
      await until('the refusal access line', () => accessLinesOf(`grpc-bound-${refused}`).length > 0);
      assert.equal(accessLinesOf(`grpc-bound-${refused}`)[0]?.status, 503);
      const metrics = (await request(`${h.metricsUrl}/metrics`)).text;
      assert.match(metrics, /paddle_request_failures_total\{model="mlp",reason="overloaded"\} 1/, 'the refusal is counted');
    } finally {
      for (const session of sessions) session.destroy();
    }
    // The cut calls give their places back: two calls at once are served again.
    await until('the cut calls to close', () => g.openCalls() === 0);
    const both = await Promise.all([metadata('grpc-bound-a'), metadata('grpc-bound-b')].map(async (md) => inferWith(await md)));
    assert.deepEqual(both.map((r) => r.error?.code ?? 0), [0, 0]);
    assert.equal(g.openCalls(), 0, 'answered calls give their places back');
    await h.sidecar.applyConfig(saved);
  });

  it('callers without a token filling the open methods with partial messages leave ModelInfer its places', async () => {
    // Before: one bound for every method; 2 partial ServerLive messages (no token needed) took
    // both places and every ModelInfer was refused until the pace check closed their connections.
    const saved = h.sidecar.config();
    await h.sidecar.applyConfig({ ...saved, queue: { maxInFlight: 1, maxQueued: 1, maxQueueTimeMs: 1000 } });
    const sessions = [connect(`http://127.0.0.1:${port}`), connect(`http://127.0.0.1:${port}`)];
    for (const session of sessions) session.on('error', () => undefined);
    try {
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(100_000, 1);
      const statuses: (string | undefined)[] = [];
      const n = OPEN_METHOD_CALLS + 4;
      for (let i = 0; i < n; i++) {
        const session = sessions[i % 2] as ReturnType<typeof connect>;
        const st = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ServerLive', 'content-type': 'application/grpc', te: 'trailers' });
        st.on('error', () => undefined);
        st.on('response', (headers) => (statuses[i] ??= headers['grpc-status'] as string | undefined));
        st.on('trailers', (trailers) => (statuses[i] ??= trailers['grpc-status'] as string | undefined));
        st.write(Buffer.concat([prefix, Buffer.alloc(1000)]));
      }
      await until('the calls past the open methods\' places refused', () => statuses.filter((x) => x !== undefined).length === 4);
      assert.deepEqual(statuses.filter((x) => x !== undefined), ['14', '14', '14', '14']);
      assert.equal(g.openCalls(), OPEN_METHOD_CALLS);
      assert.equal((await inferWith(await metadata('grpc-open-lane'))).error, null, 'ModelInfer still has its places');
    } finally {
      for (const session of sessions) session.destroy();
      await h.sidecar.applyConfig(saved);
    }
    await until('the partial calls closed', () => g.openCalls() === 0);
  });

  describe('request messages keep a pace (call-bound.ts)', () => {
    const WINDOW_MS = 400;
    let g2: GrpcFrontEnd;
    let port2: number;
    let live: () => Promise<ServiceError | null>;
    let client2: Client;
    const closed: string[] = [];
    let saved: ReturnType<Harness['sidecar']['config']>;
    before(async () => {
      saved = h.sidecar.config();
      // Two places: (maxInFlight 1 + maxQueued 1).
      await h.sidecar.applyConfig({ ...saved, queue: { maxInFlight: 1, maxQueued: 1, maxQueueTimeMs: 1000 } });
      g2 = createGrpcFrontEnd({ core: h.sidecar.core, pace: { minRateBytesPerSecond: 1024, windowMs: WINDOW_MS }, onConnectionClosed: (r) => void closed.push(r) });
      port2 = await g2.listen(0, '127.0.0.1');
      const Ctor = makeGenericClientConstructor(inferenceServiceDefinition(), 'GRPCInferenceService');
      client2 = new Ctor(`127.0.0.1:${port2}`, credentials.createInsecure());
      // A new ModelInfer call with a token: it needs one of the two places the partial calls hold.
      live = async () => {
        const md = await metadata(`grpc-pace-probe-${Math.random()}`);
        return new Promise((resolve) => (client2 as unknown as { ModelInfer: Infer }).ModelInfer(REQUEST, md, (e) => resolve(e)));
      };
    });
    after(async () => {
      client2.close();
      await g2.close();
      await h.sidecar.applyConfig(saved);
    });

    /** Opens `n` ModelInfer streams on one connection, each sending `first` bytes of a 1 MB message; their grpc-status as it comes. */
    const partialCalls = async (n: number, first: number): Promise<{ session: ReturnType<typeof connect>; streams: ReturnType<ReturnType<typeof connect>['request']>[]; statuses: (string | undefined)[] }> => {
      // Admitted callers: the pace binds callers with a valid token too.
      const authorization = `Bearer ${await h.token('model_inference', { sub: 'grpc-pace-holder' })}`;
      const session = connect(`http://127.0.0.1:${port2}`);
      session.on('error', () => undefined);
      const statuses: (string | undefined)[] = [];
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(1_000_000, 1);
      const streams = Array.from({ length: n }, (_, i) => {
        const st = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelInfer', 'content-type': 'application/grpc', te: 'trailers', authorization, 'x-request-id': `grpc-pace-${first}-${i}` });
        st.on('error', () => undefined);
        st.on('response', (headers) => (statuses[i] ??= headers['grpc-status'] as string | undefined));
        st.on('trailers', (trailers) => (statuses[i] ??= trailers['grpc-status'] as string | undefined));
        st.write(Buffer.concat([prefix, Buffer.alloc(first)]));
        return st;
      });
      return { session, streams, statuses };
    };

    it('closes a connection whose calls stopped receiving their message, and their places come back', async () => {
      // Before: calls that sent part of a message and then nothing held the bound for as long as
      // their connection lived (never idle with calls open), and every other call was UNAVAILABLE.
      closed.length = 0;
      const { session } = await partialCalls(2, 1000);
      try {
        await until('both places taken', () => g2.openCalls() === 2);
        const refused = await live();
        assert.equal(refused?.code, 14, 'the bound is full: UNAVAILABLE');
        await until('the silent connection closed', () => closed.includes('slow'));
        await until('its places given back', () => g2.openCalls() === 0);
        assert.equal(await live(), null, 'served again');
      } finally {
        session.destroy();
      }
    });

    it('a client that does not take its answers (a stream window of 0) holds its places only until its connection is closed', async () => {
      // Before: grpc-js held each answer until the client opened its window, the place came back
      // as the handler answered, and the connection (its pings answered) lived on: 200 such
      // connections x 100 ServerMetadata streams held ~240 MB for as long as they stayed.
      closed.length = 0;
      const authorization = `Bearer ${await h.token('model_inference', { sub: 'grpc-slow-reader' })}`;
      const def = inferenceServiceDefinition() as unknown as Record<string, { requestSerialize: (r: unknown) => Buffer }>;
      const message = def.ModelInfer!.requestSerialize({ ...REQUEST });
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
      frame.writeUInt32BE(message.length, 1);
      const session = connect(`http://127.0.0.1:${port2}`, { settings: { initialWindowSize: 0 } });
      session.on('error', () => undefined);
      let headers = 0;
      let ended = 0;
      const streams = Array.from({ length: 2 }, (_, i) => {
        const st = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelInfer', 'content-type': 'application/grpc', te: 'trailers', authorization, 'x-request-id': `grpc-slow-reader-${i}` });
        st.on('error', () => undefined);
        st.on('response', () => void headers++);
        st.on('close', () => void ended++);
        st.end(frame);
        return st;
      });
      try {
        await until('both answered (their headers need no window)', () => headers === 2);
        assert.equal(g2.openCalls(), 2, 'the answers not taken hold their places');
        const refused = await live();
        assert.equal(refused?.code, 14, 'the bound is full: UNAVAILABLE');
        await until('the connection that takes nothing closed', () => closed.includes('slow'));
        await until('its streams ended', () => ended === 2);
        await until('its places given back', () => g2.openCalls() === 0);
        assert.equal(await live(), null, 'served again');
        assert.deepEqual(closed, ['slow']);
      } finally {
        for (const st of streams) st.destroy();
        session.destroy();
      }
    });

    it('when the bound is full, a call still receiving after more than a window gives way (DEADLINE_EXCEEDED) to a new call', async () => {
      closed.length = 0;
      const { session, streams, statuses } = await partialCalls(2, 50_000);
      // Both keep sending above the floor (40 KB/s), so only their age makes them give way.
      const t = setInterval(() => {
        for (const st of streams) if (!st.destroyed && st.writable) st.write(Buffer.alloc(2000));
      }, 100);
      try {
        await until('both places taken', () => g2.openCalls() === 2);
        await until('both seen receiving at least a window ago', () => g2.oldReceiving() === 2);
        assert.equal(await live(), null, 'the new call is served');
        await until('the oldest partial call answered', () => statuses[0] !== undefined);
        assert.equal(statuses[0], '4', 'DEADLINE_EXCEEDED for the oldest');
        assert.equal(statuses[1], undefined, 'the other keeps its place');
        // The evicted call's own access line (the call admitted at its metadata: same request id), 408.
        await until('the eviction access line', () => accessLinesOf('grpc-pace-50000-0').length > 0);
        assert.equal(accessLinesOf('grpc-pace-50000-0')[0]?.status, 408);
        assert.deepEqual(closed, [], 'no connection closed: they kept the pace');
      } finally {
        clearInterval(t);
        session.destroy();
      }
    });
  });
});
