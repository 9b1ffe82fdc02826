// Audit records against a real rsyslog listening on TCP+TLS (RFC 5425) and UDP on loopback:
// records arrive and parse as RFC 5424; a receiver restart mid-stream loses nothing within the
// buffer bound; overflow is counted.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AuditShipper, type AuditEvent } from '../src/audit.js';
import { deadLetters, mlpBody, pki, startHarness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { loadMlpPredictor } from './helpers/predictors.js';
import { freePort, Rsyslog } from './helpers/rsyslog.js';

// RFC 5424: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ((?:\[[^\s\]=" ]+(?: [^\s\]=" ]+="(?:[^"\\]|\\.)*")*\])+|-)(?: (.*))?$/;

interface Parsed {
  pri: number;
  timestamp: string;
  appName: string;
  msgId: string;
  sd: Record<string, Record<string, string>>;
}

function parse5424(line: string): Parsed {
  const m = RFC5424.exec(line);
  assert.ok(m, `not RFC 5424: ${line}`);
  const sd: Record<string, Record<string, string>> = {};
  for (const el of (m[7] ?? '').matchAll(/\[([^\s\]]+)((?: [^=]+="(?:[^"\\]|\\.)*")*)\]/g)) {
    const params: Record<string, string> = {};
    for (const p of (el[2] ?? '').matchAll(/ ([^=]+)="((?:[^"\\]|\\.)*)"/g)) params[p[1] ?? ''] = (p[2] ?? '').replace(/\\(.)/g, '$1');
    sd[el[1] ?? ''] = params;
  }
  assert.ok(!Number.isNaN(Date.parse(m[2] ?? '')), 'timestamp parses');
  return { pri: Number(m[1]), timestamp: m[2] ?? '', appName: m[4] ?? '', msgId: m[6] ?? '', sd };
}

const event = (i: number): AuditEvent => ({
  action: 'predict',
  outcome: 'success',
  decision: 'allow',
  subject: `user-${i}`,
  path: '/v1/predict',
  status: 200,
  modelDigest: 'sha256:abc',
  group: 'control',
  envId: 'gray-v2',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  requestId: `r-${i}`,
});

describe('audit to a real rsyslog', function () {
  this.timeout(120000);
  let rs: Rsyslog;
  before(async () => {
    const p = pki();
    rs = new Rsyslog(await freePort(), await freePort(), { ca: p.caCert, cert: p.serverCert, key: p.serverKey });
    await rs.start();
  });
  after(async () => {
    await rs?.stop();
  });

  const waitForSeqs = async (want: number[], timeoutMs = 60_000): Promise<Set<number>> => {
    const deadline = Date.now() + timeoutMs;
    let seen = new Set<number>();
    while (Date.now() < deadline) {
      seen = new Set(rs.lines().map((l) => Number(parse5424(l).sd.meta?.sequenceId)));
      if (want.every((s) => seen.has(s))) return seen;
      await new Promise((r) => setTimeout(r, 100));
    }
    return seen;
  };

  it('sidecar requests produce RFC 5424 records over TLS with the audit structured data', async () => {
    const p = pki();
    const shipper = new AuditShipper({ protocol: 'tls', host: '127.0.0.1', port: rs.tlsPort, ca: readFileSync(p.caCert), appName: 'paddle-sidecar', bufferRecords: 100 });
    const h = await startHarness({ predictor: await loadMlpPredictor(), audit: shipper });
    try {
      const ok = await request(`${h.url}/v1/predict`, { ca: p.caCert, body: mlpBody(1), headers: { authorization: `Bearer ${await h.token('model_inference', { sub: 'alice' })}`, 'x-env-id': 'gray-v2', 'x-test-group': 'treatment', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
      assert.equal(ok.status, 200);
      const denied = await request(`${h.url}/v1/export_model`, { ca: p.caCert, headers: { authorization: `Bearer ${await h.token('model_inference', { sub: 'mallory' })}` } });
      assert.equal(denied.status, 403);
      await waitForSeqs([1, 2]);
      const recs = rs.lines().map(parse5424);
      const allow = recs.find((r) => r.sd['audit@32473']?.subject === 'alice');
      const deny = recs.find((r) => r.sd['audit@32473']?.subject === 'mallory');
      assert.ok(allow && deny, rs.lines().join('\n'));
      assert.equal(allow.appName, 'paddle-sidecar');
      assert.equal(allow.msgId, 'predict');
      assert.equal(allow.pri, 13 * 8 + 5);
      assert.deepEqual(
        { ...allow.sd['audit@32473'] },
        { action: 'predict', outcome: 'success', decision: 'allow', subject: 'alice', path: '/v1/predict', status: '200', modelDigest: h.predictor.info().digest, group: 'treatment', envId: 'gray-v2', traceId: '0af7651916cd43dd8448eb211c80319c', requestId: ok.headers['x-request-id'] },
      );
      assert.equal(deny.sd['audit@32473']?.decision, 'deny');
      assert.equal(deny.sd['audit@32473']?.status, '403');
      assert.equal(deny.pri, 13 * 8 + 4);
    } finally {
      await h.close();
      await shipper.close();
    }
    assert.deepEqual(deadLetters, []);
  });

  // Without the in-flight resend (resendWindowMs: 0) both variants lose records on this machine.
  for (const [signal, how] of [['SIGTERM', 'restart'], ['SIGKILL', 'crash']] as const) {
    it(`a receiver ${how} mid-stream loses nothing within the buffer bound (resend of in-flight records)`, async function () {
      this.timeout(120000);
      // The in-flight window is set far beyond the test's length: what is asserted is the buffer
      // bound, and on a loaded machine rsyslogd's shutdown alone can outlast the default 5 s
      // window (records it had not read yet were then pruned before the loss was seen).
      const shipper = new AuditShipper({ protocol: 'tls', host: '127.0.0.1', port: rs.tlsPort, ca: readFileSync(pki().caCert), appName: `restart-${signal}`, bufferRecords: 5000, resendWindowMs: 600_000 });
      const before = new Set(rs.lines().map((l) => parse5424(l)).filter((r) => r.appName === `restart-${signal}`));
      assert.equal(before.size, 0);
      const seqs: number[] = [];
      const send = async (from: number, to: number): Promise<void> => {
        for (let i = from; i < to; i++) {
          seqs.push(shipper.record(event(i)));
          if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
        }
      };
      await send(0, 300);
      await rs.stop(signal); // receiver goes away mid-stream (SIGKILL: unread data and rsyslog's queue are lost)
      await send(300, 600); // written into a dead or half-closed connection, then queued
      await new Promise((r) => setTimeout(r, 300));
      await rs.start();
      await send(600, 900);
      assert.ok(seqs.every((s) => s > 0), 'nothing dropped on overflow');
      // Waits for the state asserted (every record received), bounded well inside the test's timeout.
      const seen = await waitForSeqs(seqs, 90000);
      const missing = seqs.filter((s) => !seen.has(s));
      assert.deepEqual(missing, [], `missing ${missing.length} of ${seqs.length}`);
      assert.equal(shipper.dropped, 0);
      await shipper.close();
    });
  }

  it('overflow beyond the bound is counted, never silent', async () => {
    let dropped = 0;
    const port = await freePort(); // nobody listens: everything stays queued
    const shipper = new AuditShipper({ protocol: 'tls', host: '127.0.0.1', port, appName: 'overflow', bufferRecords: 50, onDropped: () => dropped++ });
    const results = Array.from({ length: 80 }, (_, i) => shipper.record(event(i)));
    assert.equal(results.filter((s) => s === -1).length, 30);
    assert.equal(dropped, 30);
    assert.equal(shipper.depth, 50);
    await shipper.close(100);
  });

  it('UDP transport delivers RFC 5424 datagrams', async () => {
    const shipper = new AuditShipper({ protocol: 'udp', host: '127.0.0.1', port: rs.udpPort, appName: 'udp-test', bufferRecords: 10 });
    const seq = shipper.record({ ...event(1), subject: 'udp-user' });
    const deadline = Date.now() + 60_000; // a bound on a hang, not an expected duration
    let found: Parsed | undefined;
    while (!found && Date.now() < deadline) {
      found = rs.lines().map(parse5424).find((r) => r.appName === 'udp-test');
      if (!found) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(found, 'datagram received');
    assert.equal(found.sd.meta?.sequenceId, String(seq));
    assert.equal(found.sd['audit@32473']?.subject, 'udp-user');
    await shipper.close();
  });
});
