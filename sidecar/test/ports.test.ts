// Ports with one purpose each (README "Security model"): the metrics port answers GET /metrics
// and nothing else, the health port (its own thread) the two probe paths and nothing else,
// promptly even while the main thread is blocked, failing liveness once it stops; no API route
// (inference, export, encryption) is reachable on either, so plaintext never opens the API.
// In-process over the listeners, then the real process (main.ts) with mutual TLS on the serving
// port: a client without a certificate is refused there while the probe paths answer on the
// health port.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { MODEL, mlpBody, pki, startHarness, type Harness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { InProcessMlp, MLP_DIR, RSA_PUB } from './helpers/predictors.js';
import { runSidecar, servingPorts } from './helpers/process.js';
import { HealthPort } from '../src/health-port.js';
import { testDir } from './helpers/tmp.js';

/** The API routes (and odd spellings of them) that a side port must never serve. */
const API_REQUESTS: Array<{ method: string; path: string; body?: unknown }> = [
  { method: 'POST', path: `/v2/models/${MODEL}/infer`, body: mlpBody() },
  { method: 'POST', path: `/v2/models/${MODEL}/versions/1/infer`, body: mlpBody() },
  { method: 'POST', path: '/v1/predict', body: mlpBody() },
  { method: 'POST', path: '/v1/encrypt_input', body: { a: 1 } },
  { method: 'GET', path: '/v1/export_model' },
  { method: 'GET', path: `/v2/models/${MODEL}` },
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/v2/health/live/' },
  { method: 'GET', path: '/V2/HEALTH/LIVE' },
];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('side ports: one purpose each', function () {
  this.timeout(300_000); // a safety net, not an assertion: the process test starts tsx, which takes long on a loaded 2-core CI machine
  let h: Harness;
  before(async () => {
    h = await startHarness({ predictor: new InProcessMlp(), modelDir: MLP_DIR, config: { auth: { enabled: false } } });
  });
  after(async () => {
    await h.close();
  });

  it('the metrics port serves GET /metrics and refuses every API route with 404', async () => {
    const m = await request(`${h.metricsUrl}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.text, /paddle_requests_total|paddle_model_ready 1/);
    for (const r of [...API_REQUESTS, { method: 'GET', path: '/v2/health/live' }, { method: 'GET', path: '/v2/health/ready' }]) {
      const res = await request(`${h.metricsUrl}${r.path}`, { method: r.method, ...(r.body ? { body: r.body } : {}) });
      assert.equal(res.status, 404, `${r.method} ${r.path} on the metrics port: ${res.text}`);
      assert.deepEqual(res.json, { error: 'no such endpoint' });
    }
    assert.equal((await request(`${h.metricsUrl}/metrics`, { method: 'POST', body: {} })).status, 405);
  });

  it('the health port serves the two probe paths and refuses every API route and /metrics with 404', async () => {
    assert.deepEqual((await request(`${h.healthUrl}/v2/health/live`)).json, { live: true });
    const ready = await request(`${h.healthUrl}/v2/health/ready`);
    assert.equal(ready.status, 200, ready.text);
    assert.equal((ready.json as { ready: boolean }).ready, true);
    for (const r of [...API_REQUESTS, { method: 'GET', path: '/metrics' }]) {
      const res = await request(`${h.healthUrl}${r.path}`, { method: r.method, ...(r.body ? { body: r.body } : {}) });
      assert.equal(res.status, 404, `${r.method} ${r.path} on the health port: ${res.text}`);
    }
    assert.equal((await request(`${h.healthUrl}/v2/health/live`, { method: 'POST', body: {} })).status, 405);
  });

  it('the health port answers while the main thread is blocked (its own thread), from the last readiness published', () => {
    // spawnSync blocks this thread until the child is done: only a server on another thread can answer it.
    const probe = `fetch(${JSON.stringify(`${h.healthUrl}/v2/health/ready`)}).then(async (r) => { console.log(r.status, await r.text()); })`;
    const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^200 \{"ready":true,"model":"mlp"/);
  });

  it('liveness fails once the main thread stops beating (a wedged event loop still gets the pod restarted)', async () => {
    const stopped = new HealthPort({ readiness: () => ({ status: 200, body: { ready: true } }), beatMs: 3_600_000, staleAfterMs: 1500 });
    const port = await stopped.listen(0, '127.0.0.1');
    try {
      assert.equal((await request(`http://127.0.0.1:${port}/v2/health/live`)).status, 200);
      const deadline = Date.now() + 60_000; // a bound on a hang, not an expected duration
      let dead = await request(`http://127.0.0.1:${port}/v2/health/live`);
      while (dead.status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        dead = await request(`http://127.0.0.1:${port}/v2/health/live`);
      }
      assert.equal(dead.status, 503);
      assert.match(dead.text, /not live: the event loop has not turned for \d+ ms \(limit 1500 ms\)/);
      assert.equal((await request(`http://127.0.0.1:${port}/v2/health/ready`)).status, 503);
    } finally {
      await stopped.close();
    }
  });

  it('the serving port no longer serves /metrics (its port is the metrics port)', async () => {
    const r = await request(`${h.url}/metrics`, { ca: pki().caCert });
    assert.equal(r.status, 404);
  });

  it('the process: mutual TLS on the serving port, probes answer on the health port, neither side port serves the API', async () => {
    const p = pki();
    const dir = testDir('sidecar-ports-');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1, model: { name: MODEL }, auth: { enabled: false } }));
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const proc = runSidecar([
      '--model-dir', MLP_DIR, '--public-key', RSA_PUB, '--config', join(dir, 'config.json'),
      '--host', '127.0.0.1', '--port', '0', '--metrics-port', String(metricsPort), '--health-port', String(healthPort), '--grpc-port', '0',
      '--mtls', '--tls-cert', p.serverCert, '--tls-key', p.serverKey, '--tls-ca', p.caCert,
    ]);
    try {
      const ports = await servingPorts(proc);
      assert.deepEqual([ports.metricsPort, ports.healthPort], [metricsPort, healthPort]);
      await assert.rejects(request(`https://localhost:${ports.port}/v2/health/live`, { ca: p.caCert }), 'the serving port wants a client certificate');
      assert.equal((await request(`http://127.0.0.1:${healthPort}/v2/health/live`)).status, 200);
      assert.equal((await request(`http://127.0.0.1:${healthPort}/v2/health/ready`)).status, 200);
      assert.equal((await request(`http://127.0.0.1:${metricsPort}/metrics`)).status, 200);
      for (const port of [metricsPort, healthPort]) {
        for (const r of API_REQUESTS) {
          const res = await request(`http://127.0.0.1:${port}${r.path}`, { method: r.method, ...(r.body ? { body: r.body } : {}) });
          assert.equal(res.status, 404, `${r.method} ${r.path} on plain port ${port}: ${res.text.slice(0, 200)}`);
        }
      }
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  });
});
