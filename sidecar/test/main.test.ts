// The real process: `sidecar/src/main.ts` with CLI flags and a config file, over HTTPS with the
// real addon; every stdout line is schema-valid JSON; SIGTERM drains and exits 0; bad flags exit
// 1 with one clear error line.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIDECAR_ARGS } from '../../crds/src/index.js';
import { validateLogRecord } from '../src/logging.js';
import { pki } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { MLP_DIR, RSA_PUB } from './helpers/predictors.js';
import { runSidecar, servingPorts, type SidecarProcess } from './helpers/process.js';
import { inferenceClient, tlsCredentials } from './helpers/grpc-client.js';
import { freePort } from './helpers/rsyslog.js';
import { readFileSync } from 'node:fs';
import { testDir } from './helpers/tmp.js';

const run = runSidecar;
async function servingPort(p: SidecarProcess): Promise<number> {
  return (await servingPorts(p)).port;
}

describe('paddle-sidecar process (main.ts)', function () {
  this.timeout(300_000); // a safety net above servingPorts' bound: tsx starts slowly on a loaded machine
  it('serves HTTPS with the real addon, logs schema-valid JSON, drains on SIGTERM', async () => {
    const p = pki();
    const dir = testDir('sidecar-main-');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1, model: { name: 'mlp' }, auth: { enabled: false } }));
    const grpcPort = await freePort();
    const { child, out, exited } = run([
      '--model-dir', MLP_DIR, '--public-key', RSA_PUB, '--config', join(dir, 'config.json'),
      '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--health-port', '0', '--grpc-port', String(grpcPort),
      '--tls-cert', p.serverCert, '--tls-key', p.serverKey, '--tls-ca', p.caCert,
    ]);
    try {
      const port = await servingPort({ child, out, exited });
      const ready = await request(`https://localhost:${port}/v2/health/ready`, { ca: p.caCert });
      assert.equal(ready.status, 200, ready.text);
      const infer = await request(`https://localhost:${port}/v2/models/mlp/infer`, {
        ca: p.caCert,
        body: { inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: new Array(64).fill(0.25) }] },
      });
      assert.equal(infer.status, 200, infer.text);
      // The gRPC port, on the same certificate.
      const g = inferenceClient(`localhost:${grpcPort}`, tlsCredentials(readFileSync(p.caCert)));
      try {
        assert.deepEqual(await g.call('ServerLive', {}), { live: true });
        const res = await g.call('ModelInfer', { model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], contents: { fp32_contents: new Array(64).fill(0.25) } }] });
        const raw = (res.raw_output_contents as Buffer[])[0] as Buffer;
        const viaGrpc = Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)));
        assert.deepEqual(viaGrpc, (infer.json as { outputs: { data: number[] }[] }).outputs[0]?.data, 'gRPC and REST answer the same numbers');
      } finally {
        g.close();
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const lines = out.stdout.split('\n').filter((l) => l.length > 0);
      for (const l of lines) assert.ok(validateLogRecord(JSON.parse(l)), l);
      assert.ok(lines.some((l) => l.includes('"message":"model loaded"') && l.includes('"verified":true')));
      assert.ok(lines.some((l) => l.includes('"message":"stopped"')));
      assert.equal(out.stderr.trim(), '', 'no dead letters');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('SIGTERM with --shutdown-delay-seconds: readiness 503 at once, the serving port still answers until the delay ends, then exit 0', async () => {
    const dir = testDir('sidecar-main-');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1, model: { name: 'mlp' }, auth: { enabled: false } }));
    // A delay far longer than the few requests below take, even on a loaded machine.
    const healthPort = await freePort();
    const { child, out, exited } = run([
      '--model-dir', MLP_DIR, '--public-key', RSA_PUB, '--config', join(dir, 'config.json'), '--no-tls',
      '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--health-port', String(healthPort), '--grpc-port', '0', '--shutdown-delay-seconds', '20',
    ]);
    try {
      const ports = await servingPorts({ child, out, exited });
      assert.equal(ports.healthPort, healthPort);
      assert.equal((await request(`http://127.0.0.1:${ports.healthPort}/v2/health/ready`)).status, 200);
      child.kill('SIGTERM');
      // Wait for the state, not a time: the health port answers 503 once the signal is handled.
      let ready = await request(`http://127.0.0.1:${ports.healthPort}/v2/health/ready`);
      for (let i = 0; i < 600 && ready.status === 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        ready = await request(`http://127.0.0.1:${ports.healthPort}/v2/health/ready`);
      }
      assert.equal(ready.status, 503, ready.text);
      assert.match(ready.text, /shutting down \(SIGTERM\)/);
      const servingReady = await request(`http://127.0.0.1:${ports.port}/v2/health/ready`);
      assert.equal(servingReady.status, 503, `the serving port's readiness says the same: ${servingReady.text}`);
      const infer = await request(`http://127.0.0.1:${ports.port}/v2/models/mlp/infer`, { body: { inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: new Array(64).fill(0.25) }] } });
      assert.equal(infer.status, 200, 'a client that picked this pod before it was marked terminating still gets its answer');
      assert.equal(child.exitCode, null, 'still running during the delay');
      assert.equal(await exited, 0);
      assert.ok(out.stdout.includes('"message":"shutting down: not ready, still serving until the delay ends"'));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  // The operator's Deployment sets these args from spec.tls (SIDECAR_ARGS in the pod contract).
  it('the pod-contract TLS args: --no-tls serves plain HTTP without TLS files; --mtls refuses a client without a certificate', async () => {
    const p = pki();
    const dir = testDir('sidecar-main-');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1, model: { name: 'mlp' }, auth: { enabled: false } }));
    const common = ['--model-dir', MLP_DIR, '--public-key', RSA_PUB, '--config', join(dir, 'config.json'), '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--health-port', '0', '--grpc-port', '0'];
    const plain = run([...common, SIDECAR_ARGS.noTls, '--tls-cert', join(dir, 'absent.crt'), '--tls-key', join(dir, 'absent.key')]);
    const mutual = run([...common, SIDECAR_ARGS.mutualTls, '--tls-cert', p.serverCert, '--tls-key', p.serverKey, '--tls-ca', p.caCert]);
    try {
      const plainPort = await servingPort(plain);
      assert.equal((await request(`http://127.0.0.1:${plainPort}/v2/health/ready`)).status, 200);
      const mutualPort = await servingPort(mutual);
      await assert.rejects(request(`https://localhost:${mutualPort}/v2/health/ready`, { ca: p.caCert }), 'no client certificate: refused');
      const withCert = await request(`https://localhost:${mutualPort}/v2/health/ready`, { ca: p.caCert, cert: p.clientCert, key: p.clientKey });
      assert.equal(withCert.status, 200, withCert.text);
    } finally {
      for (const c of [plain.child, mutual.child]) if (c.exitCode === null) c.kill('SIGKILL');
    }
  });

  it('a bad flag or a missing public key exits 1 with one clear JSON error line', async () => {
    const bad = run(['--device', 'tpu', '--config', '/nonexistent']);
    assert.equal(await bad.exited, 1);
    assert.match(bad.out.stderr, /--device must be cpu or gpu, got \\"tpu\\"/);
    const noKey = run(['--public-key', '/nonexistent/key.pem', '--config', '/nonexistent', '--model-dir', MLP_DIR]);
    assert.equal(await noKey.exited, 1);
    assert.match(noKey.out.stderr, /signature required but public key \/nonexistent\/key.pem is missing/);
    for (const l of `${bad.out.stderr}${noKey.out.stderr}`.split('\n').filter((x) => x.startsWith('{'))) assert.ok(validateLogRecord(JSON.parse(l)), l);
    const unknown = run(['--bogus-flag', 'x']);
    assert.equal(await unknown.exited, 1);
    assert.match(unknown.out.stderr, /Unknown option '--bogus-flag'.*--help lists the flags/);
  });
  it('--help prints every flag and exits 0 without loading anything', async () => {
    const help = run(['--help']);
    assert.equal(await help.exited, 0);
    for (const flag of ['model-dir', 'public-key', 'config', 'port', 'metrics-port', 'tls-cert', 'mtls', 'no-tls', 'help']) assert.match(help.out.stdout, new RegExp(`^  --${flag}\\b`, 'm'));
    assert.ok(!help.out.stdout.includes('model loaded'));
  });
});
