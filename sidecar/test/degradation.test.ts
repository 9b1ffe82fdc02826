// Degradation tree through the app (sampled watermarks injected), readiness rules, /healthz on
// a failing predictor, and the token cache.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { TokenVerifier } from '../src/auth.js';
import { defaultSidecarConfig } from '../src/config.js';
import type { ResourceSample } from '../src/degradation.js';
import { deadLetters, MODEL, mlpBody, newHmacSecret, pki, startHarness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { InProcessMlp, loadMlpPredictor, ScriptedPredictor } from './helpers/predictors.js';
import { testDir } from './helpers/tmp.js';

describe('degradation tree through the app', function () {
  this.timeout(120000);
  it('CPU over the watermark sheds with 503 + Retry-After; GPU over it falls back to the CPU predictor', async () => {
    let sample: ResourceSample = { cpu: 0.2, gpu: 0.3, cpuSource: 'process', gpuMemoryUsedBytes: 3e9, gpuMemoryTotalBytes: 1e10 };
    const gpuPredictor = new ScriptedPredictor();
    const cpuPredictor = await loadMlpPredictor();
    const h = await startHarness({ predictor: gpuPredictor, deps: { device: 'gpu', cpuPredictor, resourceSampler: () => sample } });
    try {
      const ca = pki().caCert;
      const auth = { authorization: `Bearer ${await h.token('model_inference')}` };
      const infer = () => request(`${h.url}/v2/models/${MODEL}/infer`, { ca, body: mlpBody(1), headers: auth });
      assert.equal(h.sidecar.sampleResources(), 'normal');
      const callsBefore = gpuPredictor.calls;
      assert.equal((await infer()).status, 200);
      assert.equal(gpuPredictor.calls, callsBefore + 1, 'normal mode runs on the GPU predictor');

      sample = { ...sample, cpu: 0.5, gpu: 0.95 };
      assert.equal(h.sidecar.sampleResources(), 'cpu-fallback');
      const cpuRunsBefore = cpuPredictor.stats().runs;
      assert.equal((await infer()).status, 200);
      assert.equal(gpuPredictor.calls, callsBefore + 1, 'fallback keeps work off the GPU predictor');
      assert.equal(cpuPredictor.stats().runs, cpuRunsBefore + 1);
      const ready = await request(`${h.url}/v2/health/ready`, { ca });
      assert.equal((ready.json as { mode: string; device: string }).mode, 'cpu-fallback');
      assert.equal((ready.json as { device: string }).device, 'cpu');
      assert.equal(h.sidecar.buildReport().mode, 'cpu-fallback');

      sample = { ...sample, cpu: 0.97 };
      assert.equal(h.sidecar.sampleResources(), 'shed');
      const shed = await infer();
      assert.equal(shed.status, 503);
      assert.equal(shed.headers['retry-after'], '5');
      assert.deepEqual(shed.json, { error: 'server is shedding load' });
      const metrics = (await request(`${h.metricsUrl}/metrics`)).text;
      assert.match(metrics, /paddle_serving_mode\{mode="shed"\} 1/);
      assert.match(metrics, /paddle_shed_total 1/);
      assert.match(metrics, /paddle_gpu_memory_used_bytes 3000000000/);
      assert.match(metrics, /paddle_gpu_memory_total_bytes 10000000000/);

      sample = { ...sample, cpu: 0.1, gpu: 0.1 };
      assert.equal(h.sidecar.sampleResources(), 'normal');
      assert.equal((await infer()).status, 200);
    } finally {
      await h.close();
    }
    assert.deepEqual(deadLetters, []);
  });
});

describe('readiness', function () {
  this.timeout(120000);
  it('an unverified model is not ready unless explicitly allowed', async () => {
    class Unverified extends InProcessMlp {
      override info() {
        return { ...super.info(), verified: false };
      }
    }
    const h = await startHarness({ predictor: new Unverified() });
    const allowed = await startHarness({ predictor: new Unverified(), deps: { allowUnverified: true } });
    try {
      const r = await request(`${h.url}/v2/health/ready`, { ca: pki().caCert });
      assert.equal(r.status, 503);
      assert.match((r.json as { error: string }).error, /not verified/);
      assert.equal((await request(`${h.url}/v2/models/${MODEL}/ready`, { ca: pki().caCert })).status, 503);
      assert.equal((await request(`${allowed.url}/v2/health/ready`, { ca: pki().caCert })).status, 200);
    } finally {
      await h.close();
      await allowed.close();
    }
  });
  it('/healthz fails (503) when inference fails, and readiness follows; both recover', async () => {
    const p = new ScriptedPredictor();
    const h = await startHarness({ predictor: p });
    try {
      const ca = pki().caCert;
      p.failing = true;
      const hz = await request(`${h.url}/healthz`, { ca });
      assert.equal(hz.status, 503);
      assert.match((hz.json as { error: string }).error, /self-check failed: .*scripted predictor failure/);
      assert.equal((await request(`${h.url}/v2/health/ready`, { ca })).status, 503);
      assert.equal((await request(`${h.url}/v2/health/live`, { ca })).status, 200, 'still live');
      p.failing = false;
      assert.equal((await request(`${h.url}/healthz`, { ca })).status, 200);
      assert.equal((await request(`${h.url}/v2/health/ready`, { ca })).status, 200);
    } finally {
      await h.close();
    }
    assert.deepEqual(deadLetters, []);
  });
});

describe('token cache', () => {
  /** An HS256 verifier over a secret file, its clock settable through `at.now`; tokens expire in 60 s. */
  const verifierWithSecret = async (): Promise<{ v: TokenVerifier; secret: Uint8Array; rotate: () => Promise<void>; at: { now: number }; exp: number }> => {
    const dir = testDir('sidecar-tok-');
    const secret = newHmacSecret();
    writeFileSync(join(dir, 'k'), secret);
    const at = { now: Date.now() };
    const cfg = { ...defaultSidecarConfig('m').auth, enabled: true, clockSkewSeconds: 0, hmacSecretFile: join(dir, 'k') };
    const v = new TokenVerifier(cfg, () => at.now);
    await v.reload(cfg);
    const rotate = async (): Promise<void> => {
      writeFileSync(join(dir, 'k'), newHmacSecret());
      await v.reload(cfg);
    };
    return { v, secret, rotate, at, exp: Math.floor(Date.now() / 1000) + 60 };
  };

  it('serves a verified token from cache only until its expiry, and forgets on key reload', async () => {
    const { v, secret, rotate, at, exp } = await verifierWithSecret();
    const tok = await new SignJWT({ scope: 'a b' }).setProtectedHeader({ alg: 'HS256' }).setSubject('s').setExpirationTime(exp).sign(secret);
    assert.deepEqual([...(await v.verify(`Bearer ${tok}`)).domains], ['a', 'b']);
    assert.equal((await v.verify(`Bearer ${tok}`)).subject, 's');
    at.now = exp * 1000 + 1; // the cache entry is expired: falls through to jose (which still sees a valid clock)
    assert.equal((await v.verify(`Bearer ${tok}`)).subject, 's');
    // Key rotation: the cached principal must not survive.
    await rotate();
    await assert.rejects(v.verify(`Bearer ${tok}`), /signature verification failed/);
  });

  it('remembers each connection\'s last token: same answers as the cache, same expiry, forgotten on reload', async () => {
    const { v, secret, rotate, at, exp } = await verifierWithSecret();
    const sign = (sub: string): Promise<string> => new SignJWT({ scope: 'a' }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime(exp).sign(secret);
    const [one, two] = [`Bearer ${await sign('one')}`, `Bearer ${await sign('two')}`];
    const conn = {};
    assert.equal(v.cached(one, conn), undefined, 'never verified: no answer without a signature check');
    assert.equal((await v.verify(one)).subject, 'one');
    assert.equal(v.cached(one, conn)?.subject, 'one');
    assert.equal(v.cached(one, conn)?.subject, 'one', 'second hit from the connection memo');
    assert.equal(v.cached(two, conn), undefined, 'another token on the same connection is not taken for the first');
    assert.equal((await v.verify(two)).subject, 'two');
    assert.equal(v.cached(two, conn)?.subject, 'two');
    assert.equal(v.cached(one, {})?.subject, 'one', 'other connections read the cache');
    assert.equal(v.cached(`${one}x`, conn), undefined);
    at.now = exp * 1000 + 1;
    assert.equal(v.cached(two, conn), undefined, 'expired: the memo does not outlive the token');
    at.now = Date.now();
    assert.equal((await v.verify(one)).subject, 'one');
    assert.equal(v.cached(one, conn)?.subject, 'one');
    await rotate();
    assert.equal(v.cached(one, conn), undefined, 'a key reload forgets the memo');
    await assert.rejects(v.verify(one), /signature verification failed/);
  });
});
