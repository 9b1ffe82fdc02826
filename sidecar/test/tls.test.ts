// Mutual TLS (CHECKLIST 2.2) and certificate rotation without dropping connections.

import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { deadLetters, pki, startHarness, type Harness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { loadMlpPredictor } from './helpers/predictors.js';
import { createSidecarServer } from '../src/server.js';

describe('mutual TLS', function () {
  this.timeout(120000);
  let h: Harness;
  before(async () => {
    h = await startHarness({ predictor: await loadMlpPredictor(), tls: 'mtls' });
  });
  after(async () => {
    await h.close();
    assert.deepEqual(deadLetters, []);
  });

  it('accepts a client certificate from the trusted CA', async () => {
    const p = pki();
    const r = await request(`${h.url}/v2/health/live`, { ca: p.caCert, cert: p.clientCert, key: p.clientKey });
    assert.equal(r.status, 200);
  });
  it('refuses a client without a certificate at the handshake', async () => {
    await assert.rejects(request(`${h.url}/v2/health/live`, { ca: pki().caCert }), (err: Error & { code?: string }) => {
      assert.match(`${err.code ?? ''} ${err.message}`, /ECONNRESET|certificate|alert|socket hang up/i);
      return true;
    });
  });
  it('refuses a client certificate from an untrusted CA', async () => {
    const p = pki();
    await assert.rejects(request(`${h.url}/v2/health/live`, { ca: p.caCert, cert: p.rogueClientCert, key: p.rogueClientKey }), (err: Error & { code?: string }) => {
      assert.match(`${err.code ?? ''} ${err.message}`, /ECONNRESET|unknown ca|certificate|alert|socket hang up/i);
      return true;
    });
  });
  it('refuses plain HTTP on the TLS port', async () => {
    const r = await request(`http://127.0.0.1:${h.port}/v2/health/live`).catch((e: Error) => e);
    assert.ok(r instanceof Error || r.status === 400, 'plain HTTP gets no answer from the app');
  });
});

describe('certificate rotation', function () {
  this.timeout(120000);
  it('re-reads changed cert files: new handshakes see the new cert, open connections keep working', async () => {
    const p = pki();
    const dir = join(p.dir, 'rotate');
    mkdirSync(dir, { recursive: true });
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    copyFileSync(p.serverCert, certFile);
    copyFileSync(p.serverKey, keyFile);
    const reloads: boolean[] = [];
    const server = createSidecarServer({
      handler: (_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      },
      tls: { certFile, keyFile, mutual: false },
      onTlsReload: (r) => reloads.push(r.ok),
    });
    const port = await server.listen(0, '127.0.0.1');
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(p.caCert) });
    try {
      const first = await request(`https://localhost:${port}/`, { agent });
      assert.equal(first.peerCn, 'localhost');
      // Rotate the way a volume update does: write new files, then rename into place.
      const [newCert, newKey] = p.issueServer('server-rotated', 'rotated.localhost');
      copyFileSync(newKey, `${keyFile}.tmp`);
      copyFileSync(newCert, `${certFile}.tmp`);
      renameSync(`${keyFile}.tmp`, keyFile);
      renameSync(`${certFile}.tmp`, certFile);
      const deadline = Date.now() + 60_000; // a bound on a hang, not an expected duration
      while (!reloads.includes(true) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(reloads.includes(true), 'the watcher reloaded the certificate');
      // The kept-alive connection from before the rotation still answers (not dropped).
      const again = await request(`https://localhost:${port}/`, { agent });
      assert.equal(again.status, 200);
      assert.equal(again.peerCn, 'localhost', 'same connection, old certificate');
      // A fresh handshake gets the new certificate (SAN still localhost).
      const fresh = await request(`https://localhost:${port}/`, { ca: p.caCert, agent: new Agent({ ca: readFileSync(p.caCert) }) });
      assert.equal(fresh.peerCn, 'rotated.localhost');
      // A broken rotation (garbage key) is refused and the last good cert stays.
      writeFileSync(keyFile, 'not a key');
      assert.equal(server.reloadTls(), false);
      const still = await request(`https://localhost:${port}/`, { agent: new Agent({ ca: readFileSync(p.caCert) }) });
      assert.equal(still.status, 200);
    } finally {
      agent.destroy();
      await server.close();
    }
  });
});
