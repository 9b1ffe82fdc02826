// Config hot reload: a ConfigMap-style symlink swap applies a new policy without restart; an
// invalid file is rejected with a log line and the last good config stays.

import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { watchConfigFile, type ReloadOutcome } from '../src/config-reloader.js';
import { baseConfig, deadLetters, mlpBody, newHmacSecret, pki, startHarness, validLogLines } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { loadMlpPredictor } from './helpers/predictors.js';

/** Lays out a directory the way the kubelet does: config.json -> ..data/config.json. */
function kubeStyleDir(root: string, first: string): { file: string; swap(text: string): void } {
  let gen = 0;
  const write = (text: string): string => {
    const d = join(root, `..gen_${gen++}`);
    mkdirSync(d);
    writeFileSync(join(d, 'config.json'), text);
    return d;
  };
  symlinkSync(write(first), join(root, '..data'));
  symlinkSync('..data/config.json', join(root, 'config.json'));
  return {
    file: join(root, 'config.json'),
    swap: (text) => {
      const d = write(text);
      symlinkSync(d, join(root, '..data_tmp'));
      renameSync(join(root, '..data_tmp'), join(root, '..data'));
    },
  };
}

describe('config hot reload', function () {
  this.timeout(120000);
  it('applies a changed policy after a symlink swap; rejects an invalid file and keeps the last good', async () => {
    const h = await startHarness({ predictor: await loadMlpPredictor() });
    const root = join(h.dir, 'configmap');
    mkdirSync(root);
    const good = baseConfig(h.dir);
    const kube = kubeStyleDir(root, JSON.stringify(good));
    const outcomes: ReloadOutcome[] = [];
    const reloader = watchConfigFile(kube.file, (c) => h.sidecar.applyConfig(c), (o) => {
      outcomes.push(o);
      if (o.ok) h.loggers.event.info({}, 'config reloaded');
      else h.loggers.event.error({ '@error.cause': o.error }, 'config rejected; keeping the last good config');
    }, { debounceMs: 50, pollMs: 500 });
    const waitFor = async (n: number): Promise<void> => {
      const deadline = Date.now() + 60_000; // a bound on a hang, not an expected duration
      while (outcomes.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      assert.ok(outcomes.length >= n, `expected ${n} reloads, saw ${outcomes.length}`);
    };
    const ca = pki().caCert;
    const predict = async (): Promise<number> =>
      (await request(`${h.url}/v1/predict`, { ca, body: mlpBody(1), headers: { authorization: `Bearer ${await h.token('model_inference', { sub: 'reload-user' })}` } })).status;
    try {
      assert.equal(await predict(), 200);
      // New policy: /v1/predict now needs a different domain, and a tighter breaker.
      const next = structuredClone(good) as { auth: { policies: { path: string; domain: string }[] }; breaker?: unknown };
      next.auth.policies = next.auth.policies.map((p) => (p.path === '/v1/predict' ? { ...p, domain: 'premium_inference' } : p));
      next.breaker = { failureThreshold: 4, treatmentFailureThreshold: 2 };
      kube.swap(JSON.stringify(next));
      await waitFor(1);
      assert.equal(outcomes[0]?.ok, true, JSON.stringify(outcomes[0]));
      assert.equal(await predict(), 403, 'the new policy applies without restart');
      assert.equal(h.sidecar.breakers.control.failureThreshold, 4, 'breaker thresholds replaced at run time');
      // Invalid file: schema error -> rejected, last good stays.
      kube.swap(JSON.stringify({ ...next, cors: { allowedOrigins: ['*'] } }));
      await waitFor(2);
      assert.equal(outcomes[1]?.ok, false);
      assert.match(outcomes[1]?.ok === false ? outcomes[1].error : '', /allowedOrigins/);
      assert.equal(await predict(), 403);
      assert.equal(h.sidecar.config().auth.policies.find((p) => p.path === '/v1/predict')?.domain, 'premium_inference');
      // Not JSON at all.
      kube.swap('{ nope');
      await waitFor(3);
      assert.match(outcomes[2]?.ok === false ? outcomes[2].error : '', /not valid JSON/);
      // A config whose key file is missing is refused by applyConfig.
      kube.swap(JSON.stringify({ ...next, auth: { ...(next.auth as object), hmacSecretFile: '/nonexistent/hmac.key' } }));
      await waitFor(4);
      assert.match(outcomes[3]?.ok === false ? outcomes[3].error : '', /cannot read HMAC secret file \/nonexistent\/hmac.key/);
      assert.equal(await predict(), 403, 'still the last good config');
      assert.ok(validLogLines.some((l) => l.includes('config rejected; keeping the last good config')));
      // Back to the original: served again.
      kube.swap(JSON.stringify(good));
      await waitFor(5);
      assert.equal(await predict(), 200);
    } finally {
      reloader.close();
      await h.close();
    }
    assert.deepEqual(deadLetters, []);
  });
});

describe('token key rotation', function () {
  this.timeout(120000);
  it('a rotated HMAC secret file is picked up without a config change; old tokens stop working', async () => {
    const h = await startHarness({ predictor: await loadMlpPredictor(), deps: { keyPollMs: 200 } });
    try {
      const ca = pki().caCert;
      const oldToken = await h.token('model_inference', { sub: 'rotating' });
      const call = (token: string) => request(`${h.url}/v1/predict`, { ca, body: mlpBody(1), headers: { authorization: `Bearer ${token}` } });
      assert.equal((await call(oldToken)).status, 200);
      const newSecret = newHmacSecret();
      writeFileSync(join(h.dir, 'hmac.key.tmp'), newSecret);
      renameSync(join(h.dir, 'hmac.key.tmp'), join(h.dir, 'hmac.key'));
      const newToken = await new SignJWT({ scope: 'model_inference' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('rotating')
        .setIssuer('https://issuer.test')
        .setAudience('paddle-sidecar-test')
        .setExpirationTime('5m')
        .sign(newSecret);
      const deadline = Date.now() + 60_000; // a bound on a hang, not an expected duration
      let status = 0;
      while (Date.now() < deadline) {
        status = (await call(newToken)).status;
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200, 'the new key is in force');
      assert.equal((await call(oldToken)).status, 401, 'the old key (and its cached tokens) are gone');
      assert.ok(validLogLines.some((l) => l.includes('token keys reloaded')));
    } finally {
      await h.close();
    }
    assert.deepEqual(deadLetters, []);
  });
});
