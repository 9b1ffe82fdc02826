// Bodies left unread by a refusal (json-body.ts leaveBody, through the app): a body whose declared
// length is within the limit is dropped and the connection serves its next request; any other
// (declared beyond the limit, chunked) is answered with `Connection: close`, and a client that goes
// on sending gets its answer and then the end of the connection, instead of the server reading its
// body to the end (node:http alone drained a refused declared 100 MB, or an endless chunked body).

import assert from 'node:assert/strict';
import { mlpBody, MODEL, startHarness, type Harness } from './helpers/harness.js';
import { InProcessMlp } from './helpers/predictors.js';
import { type Raw, rawConnections } from './helpers/raw-socket.js';
import { until } from './helpers/until.js';

const LIMIT = 64 * 1024;

/** Writes `chunk` as fast as the connection takes it until the server ends it or `maxBytes` went out; the bytes sent. */
async function flood(r: Raw, chunk: Buffer, maxBytes: number): Promise<number> {
  let sent = 0;
  while (!r.ended() && sent < maxBytes && !r.socket.destroyed) {
    const ok = r.socket.write(chunk);
    sent += chunk.length;
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          r.socket.off('drain', done);
          r.socket.off('end', done);
          r.socket.off('close', done);
          resolve();
        };
        r.socket.once('drain', done);
        r.socket.once('end', done);
        r.socket.once('close', done);
      });
    }
  }
  return sent;
}

describe('refused request bodies through the app', function () {
  this.timeout(120_000);
  let h: Harness;
  const raw = rawConnections(() => h.port);
  before(async () => {
    h = await startHarness({ predictor: new InProcessMlp(), tls: 'none', deps: { bodyLimitBytes: LIMIT } });
  });
  afterEach(() => raw.destroyAll());
  after(async () => {
    await h.close();
  });
  const connectRaw = raw.open;
  // Far more than the limit and the loopback socket buffers together: a server that drains reads it all.
  const MAX = 400 * LIMIT;

  it('413 for a declared body over the limit: the answer, then the connection ends although the client goes on sending', async () => {
    const r = await connectRaw();
    const token = await h.token('model_inference', { sub: 'refused-413' });
    r.socket.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${token}\r\ncontent-length: ${100 * 1024 * 1024}\r\n\r\n`);
    const sent = await flood(r, Buffer.alloc(16 * 1024, 0x20), MAX);
    await until('the answer', () => r.answer().length > 0);
    assert.match(r.answer(), /^HTTP\/1\.1 413 /);
    assert.match(r.answer(), /\r\nConnection: close\r\n/i, 'the answer says the connection closes');
    assert.ok(r.ended(), `the connection ended (client sent ${sent} bytes, the server did not drain them all)`);
    assert.ok(sent < MAX, 'stopped before the flood was through');
  });

  it('401 for an endless chunked body without a token: the answer, then the connection ends', async () => {
    const r = await connectRaw();
    r.socket.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`);
    const data = Buffer.alloc(16 * 1024, 0x20);
    const chunk = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
    const sent = await flood(r, chunk, MAX);
    await until('the answer', () => r.answer().length > 0);
    assert.match(r.answer(), /^HTTP\/1\.1 401 /);
    assert.match(r.answer(), /\r\nConnection: close\r\n/i, 'the answer says the connection closes');
    assert.ok(r.ended() && sent < MAX, `the connection ended (client sent ${sent} bytes)`);
  });

  it('refusals of requests without a body keep the connection: 404, then 401 on a guarded GET, then a served request', async () => {
    const r = await connectRaw();
    r.socket.write('GET /no/such/route HTTP/1.1\r\nhost: x\r\n\r\n');
    await until('the 404', () => /^HTTP\/1\.1 404 [^]*\r\n\r\n\{"error"[^]*\}$/.test(r.answer()));
    r.socket.write('GET /v1/export_model HTTP/1.1\r\nhost: x\r\n\r\n');
    await until('the 401', () => (r.answer().match(/HTTP\/1\.1 /g) ?? []).length === 2 && r.answer().endsWith('}'));
    assert.match(r.answer(), /HTTP\/1\.1 401 /);
    r.socket.write('GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n');
    await until('the third answer', () => (r.answer().match(/HTTP\/1\.1 /g) ?? []).length === 3);
    assert.doesNotMatch(r.answer(), /connection: close/i, 'no answer closes the connection');
    assert.equal(r.ended(), false, 'the connection stays open');
  });

  it('a refused body within the limit is dropped and the connection serves the next request', async () => {
    const r = await connectRaw();
    const body = JSON.stringify(mlpBody(1));
    const token = await h.token('model_inference', { sub: 'refused-keepalive' });
    const head = (auth: string): string => `POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${auth}content-length: ${body.length}\r\n\r\n`;
    r.socket.write(head('') + body); // no token: 401, its body unread
    await until('the refusal', () => /\r\n\r\n\{"error"/.test(r.answer()));
    assert.match(r.answer(), /^HTTP\/1\.1 401 /);
    r.socket.write(head(`authorization: Bearer ${token}\r\n`) + body);
    await until('the second answer', () => (r.answer().match(/HTTP\/1\.1 /g) ?? []).length === 2 && r.answer().includes('"outputs"'));
    assert.match(r.answer(), /HTTP\/1\.1 200 /);
    assert.equal(r.ended(), false, 'the connection stays open');
  });
});
