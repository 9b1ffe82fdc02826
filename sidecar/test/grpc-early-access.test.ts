// The gRPC access check before the message (grpc/early-access.ts): a ModelInfer call without a
// valid token, with the wrong scope, or over its rate is answered when its metadata arrives, not
// after its message; such calls hold no place of the open-call bound; an admitted call is checked
// and rate-limited once. Raw HTTP/2 streams (node:http2) send the metadata and part of a message
// and then wait, which grpc-js's client cannot do.

import assert from 'node:assert/strict';
import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { credentials, makeGenericClientConstructor, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { createGrpcFrontEnd, type GrpcFrontEnd } from '../src/grpc/server.js';
import { inferenceServiceDefinition } from '../src/grpc/service.js';
import { accessLinesOf, MODEL, startHarness, type Harness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { MLP_FEATURES, MLP_INPUT, ScriptedPredictor } from './helpers/predictors.js';
import { until } from './helpers/until.js';

const INFER = '/inference.GRPCInferenceService/ModelInfer';
const REQUEST = {
  model_name: MODEL,
  inputs: [{ name: MLP_INPUT, datatype: 'FP32', shape: [1, MLP_FEATURES] }],
  raw_input_contents: [Buffer.from(new Float32Array(MLP_FEATURES).fill(0.25).buffer)],
};

interface Answer {
  headers?: IncomingHttpHeaders;
  status?: string;
  message?: string;
}

/** A stream that sends the call's metadata and `first` bytes of a 100 KB message, then waits. */
function partialCall(session: ClientHttp2Session, path: string, metadata: Record<string, string>, first: number): { stream: ClientHttp2Stream; answer: Answer } {
  const answer: Answer = {};
  const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...metadata });
  stream.on('error', () => undefined);
  const take = (h: IncomingHttpHeaders): void => {
    answer.headers ??= h;
    if (h['grpc-status'] !== undefined) {
      answer.status ??= String(h['grpc-status']);
      answer.message ??= decodeURIComponent(String(h['grpc-message'] ?? ''));
    }
  };
  stream.on('response', take);
  stream.on('trailers', take);
  if (first > 0) {
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(100_000, 1);
    stream.write(Buffer.concat([prefix, Buffer.alloc(first)]));
  }
  return { stream, answer };
}

describe('gRPC access check before the message (early-access.ts)', function () {
  this.timeout(120_000);
  let h: Harness;
  let g: GrpcFrontEnd;
  let port: number;
  let client: Client;
  let saved: ReturnType<Harness['sidecar']['config']>;
  const p = new ScriptedPredictor();
  before(async () => {
    h = await startHarness({ predictor: p, tls: 'none' });
    saved = h.sidecar.config();
    // Two places in the open-call bound (maxInFlight 1 + maxQueued 1).
    await h.sidecar.applyConfig({ ...saved, queue: { maxInFlight: 1, maxQueued: 1, maxQueueTimeMs: 1000 } });
    g = createGrpcFrontEnd({ core: h.sidecar.core });
    port = await g.listen(0, '127.0.0.1');
    const Ctor = makeGenericClientConstructor(inferenceServiceDefinition(), 'GRPCInferenceService');
    client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await g.close();
    await h.close();
  });

  const infer = (md: Metadata): Promise<ServiceError | null> =>
    new Promise((resolve) => (client as unknown as { ModelInfer: (r: unknown, md: Metadata, cb: (e: ServiceError | null) => void) => void }).ModelInfer(REQUEST, md, resolve));
  const bearer = async (domain: string, sub: string): Promise<string> => `Bearer ${await h.token(domain, { sub })}`;

  it('refuses a call without a valid token, or with the wrong scope, when its metadata arrives: no message byte sent', async () => {
    const good = await bearer('model_inference', 'grpc-early-forged');
    const [head, payload, signature] = good.slice('Bearer '.length).split('.');
    // The signature's first character changed: a well-formed token that fails verification (the asynchronous path).
    const forged = `Bearer ${head}.${payload}.${signature?.startsWith('A') ? 'B' : 'A'}${signature?.slice(1)}`;
    const cases: [string, Record<string, string>, string, number][] = [
      ['no token', {}, '16', 401],
      ['a malformed header', { authorization: 'Basic dXNlcjpwdw==' }, '16', 401],
      ['a forged signature', { authorization: forged }, '16', 401],
      ['the wrong scope', { authorization: await bearer('model_metadata', 'grpc-early-scope') }, '7', 403],
    ];
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    try {
      for (const [what, md, code, http] of cases) {
        const requestId = `grpc-early-${what.replace(/\W+/g, '-')}`;
        const { stream, answer } = partialCall(session, INFER, { ...md, 'x-request-id': requestId }, 0);
        // The stream stays open and sends nothing more: the answer cannot wait for a message.
        await until(`the refusal of ${what}`, () => answer.status !== undefined, 20_000);
        assert.equal(answer.status, code, what);
        assert.equal(answer.headers?.['x-request-id'], requestId, `${what}: the request id answered`);
        await until(`the access line of ${what}`, () => accessLinesOf(requestId)[0] !== undefined);
        assert.equal(accessLinesOf(requestId)[0]?.status, http, what);
        stream.close();
      }
    } finally {
      session.destroy();
    }
    const metrics = (await request(`${h.metricsUrl}/metrics`)).text;
    assert.match(metrics, /paddle_request_failures_total\{model="mlp",reason="unauthenticated"\} [3-9]/);
    await until('no call open', () => g.openCalls() === 0);
  });

  it('callers without a valid token hold no place: 20 partial messages without one, and the bound still admits', async () => {
    // Before: each such call held a place until its message was whole (2 places here), every
    // other call refused UNAVAILABLE, and the token was read only after the whole message.
    const sessions = [connect(`http://127.0.0.1:${port}`), connect(`http://127.0.0.1:${port}`)];
    for (const s of sessions) s.on('error', () => undefined);
    try {
      const calls = Array.from({ length: 20 }, (_, i) => partialCall(sessions[i % 2] as ClientHttp2Session, INFER, i % 4 === 0 ? {} : { authorization: 'Bearer not.a.token' }, 50_000));
      await until('every call refused', () => calls.every((c) => c.answer.status !== undefined), 20_000);
      assert.deepEqual(new Set(calls.map((c) => c.answer.status)), new Set(['16']), 'all UNAUTHENTICATED, none UNAVAILABLE');
      await until('their places given back', () => g.openCalls() === 0);
      const md = new Metadata();
      md.set('authorization', await bearer('model_inference', 'grpc-early-after'));
      assert.equal(await infer(md), null, 'a caller with a token is served');
    } finally {
      for (const s of sessions) s.destroy();
    }
  });

  it('an admitted call is checked and rate-limited once: a policy of 2 calls a minute admits exactly 2', async () => {
    const current = h.sidecar.config();
    const policies = current.auth.policies.map((x) => (x.path === '/v2/models/{model}/infer' ? { ...x, callsPerMinute: 2 } : x));
    await h.sidecar.applyConfig({ ...current, auth: { ...current.auth, policies } });
    try {
      const md = new Metadata();
      md.set('authorization', await bearer('model_inference', 'grpc-early-rate'));
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await infer(md));
      assert.deepEqual(
        answers.map((a) => a?.code ?? 0),
        [0, 0, 8],
        'two served, the third RESOURCE_EXHAUSTED',
      );
      assert.ok(Number(answers[2]?.metadata.get('retry-after')[0]) >= 1, 'retry-after in the trailers');
    } finally {
      await h.sidecar.applyConfig(current);
    }
  });
});
