// A client that goes away before its answer: the request is still accounted for. One access
// line (status 499, the cause), the server span ended, the request counted under code 499, and
// the process keeps serving. A client gone while its request waits in the run queue: the run
// never starts (a burst of requests whose callers hung up must not buy the predictor's time).

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { accessLinesOf, deadLetters, MODEL, mlpBody, startHarness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { ScriptedPredictor } from './helpers/predictors.js';
import { until } from './helpers/until.js';

/** Sends an infer request on a connection of its own: its head and `body` (all of it unless `declaredLength` says more). The socket, to close. */
async function sendInfer(port: number, token: string, requestId: string, body: string, declaredLength = Buffer.byteLength(body)): Promise<Socket> {
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(
    `POST /v2/models/${MODEL}/infer HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
      `authorization: Bearer ${token}\r\nx-request-id: ${requestId}\r\ncontent-length: ${declaredLength}\r\n\r\n${body}`,
  );
  return sock;
}

describe('client disconnects mid-request', function () {
  this.timeout(120000);
  it('writes the access line, ends the span and counts code 499', async () => {
    const p = new ScriptedPredictor();
    p.latencyMs = 300;
    const h = await startHarness({ predictor: p, tls: 'none' });
    try {
      const token = await h.token('model_inference', { sub: 'leaver' });
      const body = JSON.stringify(mlpBody(1));
      const requestId = 'abandoned-request-1';
      const before = p.calls; // the start-up self-check runs the predictor too
      const sock = await sendInfer(h.port, token, requestId, body);
      // Gone while the predictor is still running.
      const deadline = Date.now() + 60_000; // a bound on a hang, not an expected duration
      while (p.calls === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(p.calls, before + 1, 'the request reached the predictor');
      sock.destroy();
      // Wait for what is asserted below (the access line, the ended span, the audit record),
      // not for a fixed time: the server notices the close and finishes on its own schedule.
      const accessLines = () => accessLinesOf(requestId);
      const finished = () =>
        accessLines().length > 0 &&
        h.spans.getFinishedSpans().some((s) => s.attributes['request.id'] === requestId && s.name.startsWith('POST')) &&
        h.audits.some((a) => a.requestId === requestId);
      const seenBy = Date.now() + 60_000;
      while (!finished() && Date.now() < seenBy) await new Promise((r) => setTimeout(r, 20));

      const lines = accessLines();
      assert.equal(lines.length, 1, 'exactly one access line for the abandoned request');
      const line = lines[0]!;
      assert.equal(line.status, 499);
      assert.equal(line.subject, 'leaver');
      assert.match(String(line['@error.cause']), /client_closed/);
      const span = h.spans.getFinishedSpans().find((s) => s.attributes['request.id'] === requestId && s.name.startsWith('POST'));
      assert.ok(span, 'the server span ended');
      assert.equal(span.attributes['http.response.status_code'], 499);
      const audit = h.audits.find((a) => a.requestId === requestId);
      assert.ok(audit, 'the audit record was written');
      assert.equal(audit.status, 499);
      assert.equal(audit.outcome, 'failure');
      assert.equal(audit.reason, 'client_closed');
      // Its run and answer no longer count in the run queue.
      for (let i = 0; i < 6000 && (h.sidecar.queue.stats().inFlight > 0 || h.sidecar.queue.stats().answering > 0); i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual([h.sidecar.queue.stats().inFlight, h.sidecar.queue.stats().answering, h.sidecar.queue.stats().reservedBytes], [0, 0, 0]);
      // Still serving, and the abandoned request is counted.
      const ok = await request(`${h.url}/v2/models/${MODEL}/infer`, { body: mlpBody(1), headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200, ok.text);
      const metrics = await request(`${h.metricsUrl}/metrics`);
      assert.match(metrics.text, /paddle_requests_total\{[^}]*code="499"[^}]*\} 1/);
    } finally {
      await h.close();
    }
    assert.deepEqual(deadLetters, []);
  });

  it('a client gone while its request waits in the run queue: its run never starts, queue empty, 499', async () => {
    const p = new ScriptedPredictor();
    p.latencyMs = 400;
    const h = await startHarness({ predictor: p, tls: 'none', config: { queue: { maxInFlight: 1 } } });
    try {
      const token = await h.token('model_inference', { sub: 'waiter' });
      const before = p.calls;
      // A holds the one run slot for 400 ms.
      const first = request(`${h.url}/v2/models/${MODEL}/infer`, { body: mlpBody(2), headers: { authorization: `Bearer ${token}` } });
      await until('the first request to run', () => p.calls !== before);
      assert.equal(p.calls, before + 1, 'the first request is running');
      // B waits behind it, then hangs up.
      const requestId = 'queued-then-gone-1';
      const sock = await sendInfer(h.port, token, requestId, JSON.stringify(mlpBody(2)));
      await until('the second request to wait', () => h.sidecar.queue.stats().queued !== 0);
      assert.equal(h.sidecar.queue.stats().queued, 1, 'the second request waits in the queue');
      sock.destroy();
      const accessLines = () => accessLinesOf(requestId);
      await until('its access line', () => accessLines().length > 0);
      assert.equal((await first).status, 200);
      const q = () => h.sidecar.queue.stats();
      await until('the queue to empty', () => q().queued === 0 && q().inFlight === 0 && q().answering === 0);
      assert.deepEqual([h.sidecar.queue.stats().queued, h.sidecar.queue.stats().inFlight, h.sidecar.queue.stats().answering, h.sidecar.queue.stats().reservedBytes], [0, 0, 0, 0]);
      // Give a run that (wrongly) started after A a chance to show up before counting.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(p.calls, before + 1, 'the abandoned request never reached the predictor');
      assert.equal(accessLines().length, 1);
      assert.equal(accessLines()[0]?.status, 499);
      await until('its audit record', () => h.audits.some((a) => a.requestId === requestId));
      const audit = h.audits.find((a) => a.requestId === requestId);
      assert.equal(audit?.status, 499);
      assert.equal(audit?.reason, 'client_closed');
      const ok = await request(`${h.url}/v2/models/${MODEL}/infer`, { body: mlpBody(2), headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200, ok.text);
    } finally {
      await h.close();
    }
    assert.deepEqual(deadLetters, []);
  });

  it('a client gone in the middle of its body: 499 client_closed, never counted as a bad request', async () => {
    const h = await startHarness({ predictor: new ScriptedPredictor(), tls: 'none' });
    try {
      const token = await h.token('model_inference', { sub: 'half-sender' });
      const requestId = 'half-body-1';
      const sock = await sendInfer(h.port, token, requestId, '{"inputs":[', 5000);
      await new Promise((r) => setTimeout(r, 50));
      sock.destroy();
      const accessLines = () => accessLinesOf(requestId);
      await until('its access line', () => accessLines().length > 0);
      assert.equal(accessLines().length, 1);
      assert.equal(accessLines()[0]?.status, 499);
      assert.match(String(accessLines()[0]?.['@error.cause']), /^client_closed/);
      await new Promise((r) => setTimeout(r, 50));
      const metrics = (await request(`${h.metricsUrl}/metrics`)).text;
      assert.doesNotMatch(metrics, /paddle_request_failures_total\{[^}]*reason="bad_request"/);
    } finally {
      await h.close();
    }
    assert.deepEqual(deadLetters, []);
  });
});
