import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { SidecarError } from '../../src/errors.js';
import { Authn } from '../../src/pipeline/authn.js';
import { kit } from './kit.js';

describe('pipeline stage: authn', () => {
  const dir = mkdtempSync(join(tmpdir(), 'authn-stage-'));
  const secret = Buffer.from('a-test-only-hmac-secret-of-enough-length-0123456789');
  const hmacSecretFile = join(dir, 'hmac.key');
  writeFileSync(hmacSecretFile, secret);
  const k = kit({ auth: { enabled: true, issuer: 'iss', audience: 'aud', hmacSecretFile } });
  const sign = (sub: string, key = secret): Promise<string> =>
    new SignJWT({ scope: 'model_inference' }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuer('iss').setAudience('aud').setExpirationTime('1h').sign(key);
  const is401 = (e: unknown): boolean => e instanceof SidecarError && e.httpStatus === 401;

  it('verifies a token once (a promise), then answers it synchronously from the cache', async () => {
    const a = await Authn.create(k.config.auth, { log: k.loggers.event, watchKeyFiles: false });
    const header = `Bearer ${await sign('alice')}`;
    const first = a.principal(header, undefined, '10.0.0.1', 'model_inference');
    assert.ok(first instanceof Promise);
    assert.equal((await first).subject, 'alice');
    assert.ok((await first).domains.has('model_inference'));
    const again = a.principal(header, {}, '10.0.0.1', 'model_inference');
    assert.ok(!(again instanceof Promise));
    assert.equal(again.subject, 'alice');
  });

  it('refuses a missing, malformed or foreign-key token with 401', async () => {
    const a = await Authn.create(k.config.auth, { log: k.loggers.event, watchKeyFiles: false });
    for (const header of [undefined, 'Basic abc', `Bearer ${await sign('eve', Buffer.from('another-secret-another-secret-another-secret!!'))}`]) {
      await assert.rejects(Promise.resolve(a.principal(header, undefined, undefined, 'model_inference')), is401, String(header));
    }
  });

  it('with auth off, the caller is its address holding the policy domain', async () => {
    const a = await Authn.create(kit().config.auth, { log: k.loggers.event });
    const p = a.principal(undefined, undefined, '10.1.2.3', 'model_admin');
    assert.ok(!(p instanceof Promise));
    assert.equal(p.subject, 'ip:10.1.2.3');
    assert.deepEqual([...p.domains], ['model_admin']);
    assert.equal(a.enabled, false);
  });

  it('a reload whose key file cannot be read throws and keeps the previous keys', async () => {
    const a = await Authn.create(k.config.auth, { log: k.loggers.event, watchKeyFiles: false });
    await assert.rejects(a.reload({ ...k.config.auth, hmacSecretFile: join(dir, 'missing.key') }));
    assert.equal((await a.principal(`Bearer ${await sign('bob')}`, undefined, undefined, 'model_inference')).subject, 'bob');
  });
});
