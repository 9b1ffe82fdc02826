// Clients that send their request body slowly (json-body.ts BodyBytes, through the app over TLS):
// a body that stalls or trickles below the floor is answered 408 and its connection closed, one
// that keeps the pace is served, and bodies that have been arriving for longer than a window give
// way to a new one when the body bound is full (a "slow POST" that held the bound no longer
// refuses everyone else's bodies). The header deadline: connections.test.ts.

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { mlpBody, MODEL, pki, startHarness, type Harness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { InProcessMlp } from './helpers/predictors.js';
import { type Raw, rawConnections } from './helpers/raw-socket.js';
import { until } from './helpers/until.js';

/** The head of an infer request declaring a body of `length` bytes. */
const inferHead = (length: number): string => `POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;

/** A valid MLP request padded with trailing JSON whitespace to `length` bytes. */
const paddedBody = (length: number): string => {
  const body = JSON.stringify(mlpBody(1));
  return body + ' '.repeat(length - body.length);
};

/** Writes `bytes` spaces every `everyMs` until stopped. */
function trickle(socket: Socket, bytes: number, everyMs: number): () => void {
  const t = setInterval(() => {
    if (!socket.destroyed) socket.write(' '.repeat(bytes));
  }, everyMs);
  return () => clearInterval(t);
}

describe('slow request bodies through the app', function () {
  this.timeout(120000);
  const WINDOW_MS = 500;
  let h: Harness;
  const raw = rawConnections(() => h.port, () => pki().caCert);

  before(async () => {
    h = await startHarness({
      predictor: new InProcessMlp(),
      config: { auth: { enabled: false }, queue: { maxInFlight: 1, maxQueued: 2, maxQueueTimeMs: 10_000 } },
      deps: { bodyPace: { minRateBytesPerSecond: 1024, windowMs: WINDOW_MS } },
    });
  });
  afterEach(() => raw.destroyAll());
  after(async () => {
    await h.close();
  });

  const connectRaw = raw.open;

  it('answers a body that stalls below the floor 408 with Connection: close and closes its connection; serves one that keeps the pace', async () => {
    const slow = await connectRaw();
    const body = paddedBody(200_000);
    slow.socket.write(inferHead(body.length) + body.slice(0, 1000));
    const stopSlow = trickle(slow.socket, 1, 100); // 10 bytes/s, the floor is 1024
    const paced = await connectRaw();
    paced.socket.write(inferHead(body.length));
    let sent = 0;
    const pacer = setInterval(() => {
      const next = body.slice(sent, sent + 4000); // 80 KB/s, in 50 ms steps
      sent += next.length;
      if (next.length > 0) paced.socket.write(next);
      if (sent >= body.length) clearInterval(pacer);
    }, 50);
    try {
      await until('the slow body answered and its connection closed', () => slow.closed() && slow.answer().length > 0);
      await until('the paced body answered', () => /\r\n\r\n\{/.test(paced.answer()));
    } finally {
      stopSlow();
      clearInterval(pacer);
    }
    assert.match(slow.answer(), /^HTTP\/1\.1 408 /, slow.answer());
    assert.match(slow.answer(), /\r\nconnection: close\r\n/i);
    assert.match(slow.answer(), /request body too slow: \d+ bytes\/s over the last [\d.]+ s, below the minimum 1024 bytes\/s/);
    assert.match(paced.answer(), /^HTTP\/1\.1 200 /, paced.answer());
    assert.equal(paced.closed(), false, 'the paced connection stays open');
    const m = (await request(`${h.metricsUrl}/metrics`)).text;
    assert.match(m, /paddle_request_failures_total\{model="mlp",reason="request_timeout"\} 1/);
    assert.doesNotMatch(m, /paddle_breaker_state\{[^}]*\} [12]/, 'a slow client is a client error: the breaker stays closed');
  });

  it('under a full body bound, closes the reads older than a window (oldest first) instead of refusing a new body', async () => {
    // The bound: (maxInFlight 1 + maxQueued 2) x 1 MiB. Three holders send 900 KB of a 1,048,000
    // byte body and then 20 KB/s (20 x the floor, so only their age makes them give way, however
    // late a loaded machine runs their timers; 148 KB last them 7 s): before, they kept the bound
    // full for as long as they kept sending, and every other body was refused (503).
    const holders: Raw[] = [];
    const stops: Array<() => void> = [];
    try {
      for (let i = 0; i < 3; i++) {
        const r = await connectRaw();
        r.socket.write(`${inferHead(1_048_000)}[${' '.repeat(900_000)}`);
        stops.push(trickle(r.socket, 1000, 50));
        holders.push(r);
      }
      await until('the three holders seen by a check at least a window ago', () => h.sidecar.rest.bodies.oldReads() === 3);
      const fresh = await connectRaw();
      const body = paddedBody(1_000_000);
      fresh.socket.write(inferHead(body.length) + body);
      await until('the new body answered', () => /\r\n\r\n\{/.test(fresh.answer()));
      assert.match(fresh.answer(), /^HTTP\/1\.1 200 /, fresh.answer());
      await until('the oldest holder closed', () => holders[0]?.closed() === true);
      assert.match(holders[0]?.answer() ?? '', /^HTTP\/1\.1 408 [^]*request body still incomplete after more than 0\.5 s while newer bodies waited for room/);
      assert.equal(holders[2]?.closed(), false, 'the youngest holder kept its place (the new body fit after the oldest gave way)');
    } finally {
      for (const s of stops) s();
    }
  });
});
