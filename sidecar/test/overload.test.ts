// The bounded run queue through the app (spec.queue): with the predictor busy, requests wait up
// to maxQueued, the next is refused at once with 503 + Retry-After, waiters past maxQueueTimeMs
// get 503 + Retry-After, the probe port answers meanwhile, and none of it counts toward the
// breaker. Bodies being received at once are bounded too (partial bodies cannot pin memory). (The encoder's own cases, inline and on its worker threads: pipeline/encode.test.ts.)

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { mlpBody, MODEL, pki, startHarness, validLogLines, type Harness } from './helpers/harness.js';
import { request, type TestResponse } from './helpers/http.js';
import { InProcessMlp } from './helpers/predictors.js';
import { until } from './helpers/until.js';
import type { Tensor } from '../src/predictor.js';
import { shapeKey } from '../src/pipeline/service-times.js';

/** Runs only when the test opens the gate (so "busy" is a state, not a timing). */
class GatedPredictor extends InProcessMlp {
  calls = 0;
  private gates: Array<() => void> = [];
  open = false;
  override async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    this.calls++;
    if (!this.open) await new Promise<void>((r) => this.gates.push(r));
    return super.run(inputs);
  }
  release(): void {
    this.open = true;
    for (const g of this.gates.splice(0)) g();
  }
}

/** A TLS connection to the serving port once its handshake is done (errors ignored: the tests close these abruptly). */
async function tlsSocket(port: number): Promise<TLSSocket> {
  const s = connect({ host: '127.0.0.1', port, ca: readFileSync(pki().caCert), servername: 'localhost' });
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.once('secureConnect', () => r()));
  return s;
}

/** The head of an infer request declaring a body of `length` bytes. */
const inferHead = (length: number): string => `POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;

describe('run queue through the app', function () {
  this.timeout(120000);
  let h: Harness;
  let p: GatedPredictor;
  const infer = (): Promise<TestResponse> => request(`${h.url}/v2/models/${MODEL}/infer`, { ca: pki().caCert, body: mlpBody(1) });

  before(async () => {
    p = new GatedPredictor();
    p.open = true; // the app's self-check at start
    // maxQueueTimeMs: the fourth request must find both waiters still queued, however slowly a
    // loaded machine gets it there (at 400 ms it once came after they had timed out).
    h = await startHarness({ predictor: p, config: { auth: { enabled: false }, queue: { maxInFlight: 1, maxQueued: 2, maxQueueTimeMs: 10_000 } } });
    p.open = false;
  });
  after(async () => {
    p.release();
    await h.close();
  });

  it('one in flight, two waiting, the fourth refused at once with 503 + Retry-After; waiters past maxQueueTimeMs get 503; probes answer meanwhile', async () => {
    const calls0 = p.calls;
    const first = infer();
    await until('the first run to start', () => p.calls === calls0 + 1);
    const waiting = [infer(), infer()];
    await until('two waiters', () => h.sidecar.queue.stats().queued === 2);
    const refused = await infer();
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.headers['retry-after'], '10', 'Retry-After: the queue\'s time bound');
    assert.match((refused.json as { error: string }).error, /server busy: 1 runs in flight and 2 waiting \(queue.maxQueued 2\)/);

    const live = await request(`${h.healthUrl}/v2/health/live`);
    assert.equal(live.status, 200, 'the probe answers while the predictor is busy and the queue full');

    for (const w of await Promise.all(waiting)) {
      assert.equal(w.status, 503, w.text);
      assert.equal(w.headers['retry-after'], '10');
      assert.match((w.json as { error: string }).error, /no run slot within queue.maxQueueTimeMs \(10000 ms\)/);
    }
    assert.equal(p.calls, calls0 + 1, 'refused requests never reached the predictor');
    p.release();
    const served = await first;
    assert.equal(served.status, 200, served.text);
    assert.equal(h.sidecar.breakers.control.state, 'closed', 'busy is not broken');
    assert.equal(h.sidecar.readiness().ready, true);
    const m = (await request(`${h.metricsUrl}/metrics`)).text;
    assert.match(m, /paddle_request_failures_total\{model="mlp",reason="overloaded"\} 1/);
    assert.match(m, /paddle_request_failures_total\{model="mlp",reason="queue_timeout"\} 2/);
    assert.match(m, /paddle_queue_depth 0/);
  });

  it('a request whose answer cannot come within maxQueueTimeMs + one run gets 503 + Retry-After at once, without running; served ones log their phases', async () => {
    await h.sidecar.applyConfig({ ...h.sidecar.config(), queue: { maxInFlight: 1, maxQueued: 2, maxQueueTimeMs: 60000 } });
    // Runs of this shape: 1 ms at best, 100 s at worst lately: any wait would answer late.
    h.sidecar.queue.observe(shapeKey({ x: { shape: [1, 64] } }), 1);
    h.sidecar.queue.observe(shapeKey({ x: { shape: [1, 64] } }), 100_000);
    p.open = false;
    const calls0 = p.calls;
    const first = infer();
    await until('the first run to start', () => p.calls === calls0 + 1);
    const refused = await infer(); // (the old queue would hold it for 60 s: the test's timeout)
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.headers['retry-after'], '60');
    assert.match((refused.json as { error: string }).error, /no run slot within queue.maxQueueTimeMs \(60000 ms\) to answer in time \(runs of this shape take up to 100000 ms now, one run 1 ms\)/);
    assert.equal(p.calls, calls0 + 1, 'the refused request never reached the predictor');
    assert.equal(h.sidecar.queue.stats().queued, 0);
    p.release();
    const served = await first;
    assert.equal(served.status, 200, served.text);
    await until('its answer to leave the queue', () => h.sidecar.queue.stats().answering === 0);
    assert.deepEqual([h.sidecar.queue.stats().inFlight, h.sidecar.queue.stats().reservedBytes], [0, 0]);
    const id = served.headers['x-request-id'];
    const accessLine = (): Record<string, unknown> | undefined => validLogLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.request_id === id && l['@log.kind'] === 'access');
    await until('its access line', () => accessLine() !== undefined);
    const access = accessLine();
    const phases = access?.phases_ms as Record<string, number> | undefined;
    assert.deepEqual(Object.keys(phases ?? {}), ['parse', 'queue', 'run', 'encode', 'write'], JSON.stringify(access));
    assert.ok(Object.values(phases ?? {}).every((ms) => ms >= 0), JSON.stringify(phases));
  });

  it('a hot-reloaded spec.queue applies to the next request', async () => {
    p.release();
    await h.sidecar.applyConfig({ ...h.sidecar.config(), queue: { maxInFlight: 4, maxQueued: 0, maxQueueTimeMs: 50 } });
    const rs = await Promise.all([infer(), infer(), infer()]);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
  });

  it('a waiter whose client hangs up leaves the queue at once: its place goes to the next caller, and it never runs', async () => {
    await h.sidecar.applyConfig({ ...h.sidecar.config(), queue: { maxInFlight: 1, maxQueued: 2, maxQueueTimeMs: 30_000 } });
    p.open = false; // the predictor busy until release
    // A shape of its own, served in 5 ms: the MLP's 1-row one is a short run by now (short runs
    // may overlap beyond maxInFlight, queue.ts) and carries the 100 s figure of the test above
    // (which a shape never seen would borrow); this one keeps maxInFlight 1 and may wait.
    const rows = 3;
    h.sidecar.queue.observe(shapeKey({ x: { shape: [rows, 64] } }), 5);
    const inferRows = (): Promise<TestResponse> => request(`${h.url}/v2/models/${MODEL}/infer`, { ca: pki().caCert, body: mlpBody(rows) });
    const calls0 = p.calls;
    const timeouts0 = h.sidecar.queue.stats().rejectedTimeout;
    const first = inferRows();
    await until('the first run to start', () => p.calls === calls0 + 1);
    const kept = inferRows();
    // The second waiter on a socket of its own, closed while it waits.
    const s = await tlsSocket(h.port);
    const body = JSON.stringify(mlpBody(rows));
    s.write(`${inferHead(Buffer.byteLength(body))}${body}`);
    await until('two waiters', () => h.sidecar.queue.stats().queued === 2);
    s.destroy();
    // (Before, it stayed until its deadline, maxQueueTimeMs later, and took the next caller's place meanwhile.)
    await until('the hung-up waiter out of the queue', () => h.sidecar.queue.stats().queued === 1);
    // Its place is free now (maxQueued 2): the next caller waits instead of being refused.
    const next = inferRows();
    await until('the next caller waiting', () => h.sidecar.queue.stats().queued === 2);
    p.release();
    const served = await Promise.all([first, kept, next]);
    assert.deepEqual(served.map((r) => r.status), [200, 200, 200], served.map((r) => r.text).join('\n'));
    assert.equal(p.calls, calls0 + 3, 'the abandoned request never reached the predictor');
    assert.equal(h.sidecar.queue.stats().rejectedTimeout, timeouts0, 'it left when its client did, not at its deadline');
    const m = (await request(`${h.metricsUrl}/metrics`)).text;
    assert.match(m, /paddle_request_failures_total\{model="mlp",reason="client_closed"\} 1/);
    assert.match(m, /paddle_queue_depth 0/);
  });

  it('bodies received at once are bounded: past (maxInFlight + maxQueued) x the body limit, 503 + Retry-After before they are complete', async () => {
    // Bodies are buffered whole before they are parsed (here auth is off): a probe of the real
    // process held 480 MB for 500 connections each sending all but the end of a 1 MB body. Here
    // the bound is 3 x 1 MiB.
    await h.sidecar.applyConfig({ ...h.sidecar.config(), queue: { maxInFlight: 1, maxQueued: 2, maxQueueTimeMs: 1000 } });
    const sockets: TLSSocket[] = [];
    const answers: string[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const s = await tlsSocket(h.port);
        const seen: Buffer[] = [];
        s.on('data', (d: Buffer) => {
          seen.push(d);
          answers[i] = Buffer.concat(seen).toString('latin1');
        });
        s.write(`${inferHead(1_000_000)}[${' '.repeat(900_000)}`);
        sockets.push(s);
      }
      await until('one body refused', () => answers.some((a) => a !== undefined && a.startsWith('HTTP/1.1 503')));
      const refused = answers.find((a) => a?.startsWith('HTTP/1.1 503')) ?? '';
      assert.match(refused, /retry-after: 1/i);
      assert.match(refused, /server busy: [\d.]+ MiB of request bodies are being received, above the 3\.0 MiB bound/);
      assert.equal(answers.filter((a) => a?.startsWith('HTTP/1.1 503')).length, 1, 'only the body that crossed the bound');
    } finally {
      for (const s of sockets) s.destroy();
    }
    // Their bytes are released when they go: the next request is served.
    p.release();
    const ok = await infer();
    assert.equal(ok.status, 200, ok.text);
  });
});
