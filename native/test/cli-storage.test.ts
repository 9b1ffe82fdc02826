// paddle-model's storage side against real servers: push to and fetch from a real S3 server
// (e2e/tools/s3server: rclone/gofakes3 with SigV4 authentication, built from the Go module
// proxy, on loopback) and a local HTTPS server with its own CA; keygen; pack as an OCI image
// layout; the bin entries. Tampered, partial, oversized and unauthorized downloads must be
// refused with the file named in the termination message, and no credential may reach any
// output.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { jwtVerify } from 'jose';
import { extract as extractTar } from 'tar';
import { runCli } from '../lib/cli.js';
import { backoffDelay } from '../lib/cli/fetch.js';
import { parseHeaders } from '../lib/cli/store.js';
import { startHttpsFileServer, type HttpsFileServer } from '../../e2e/src/https-server.js';
import { startS3Server, type S3Server } from '../../e2e/src/s3-server.js';
import { FIXTURES, copyModel } from './fixtures.js';

const PUB = join(FIXTURES, 'keys', 'test-only-ed25519.pub.pem');
const PRIV = join(FIXTURES, 'keys', 'test-only-ed25519.key.pem');
const OTHER_PUB = join(FIXTURES, 'keys', 'test-only-rsa2048.pub.pem');
const REPO = join(FIXTURES, '..', '..');

async function cli(argv: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { ...process.env };
  if (env) Object.assign(process.env, env);
  try {
    const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    for (const k of Object.keys(env ?? {})) if (saved[k] === undefined) delete process.env[k];
  }
}

describe('paddle-model storage: push, fetch, pack, keygen', function () {
  this.timeout(120_000);
  let s3: S3Server;
  let scratch: string;
  let model: { dir: string; cleanup: () => void };
  let creds: string;

  before(async () => {
    s3 = await startS3Server(['models']);
    model = copyModel('mlp', 'legacy');
    const signed = await cli(['sign', '--key', PRIV, model.dir]);
    assert.equal(signed.code, 0, signed.err);
  });
  after(async () => {
    await s3?.stop();
    model?.cleanup();
  });
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'cli-storage-'));
    creds = join(scratch, 'creds');
    mkdirSync(creds);
    writeFileSync(join(creds, 'accessKeyId'), `${s3.accessKeyId}\n`);
    writeFileSync(join(creds, 'secretAccessKey'), `${s3.secretAccessKey}\n`);
  });
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  const s3Flags = (prefix: string, credsDir = creds) => ['--s3-endpoint', s3.endpoint, '--s3-bucket', 'models', '--s3-prefix', prefix, '--credentials-dir', credsDir];
  const fetchArgs = (flags: string[], dest: string, extra: string[] = []) => [
    'fetch',
    ...flags,
    '--key',
    PUB,
    '--dest',
    dest,
    '--termination-log',
    join(scratch, 'termination-log'),
    '--backoff-ms',
    '10',
    ...extra,
  ];
  const termination = () => readFileSync(join(scratch, 'termination-log'), 'utf8');
  const assertNoSecret = (...texts: string[]) => {
    for (const t of texts) assert.ok(!t.includes(s3.secretAccessKey), `a credential leaked into output: ${t}`);
  };

  it('--help exits 0 with the usage; the bin entries run from the checkout', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    for (const c of ['keygen', 'sign', 'verify', 'inspect', 'push', 'fetch', 'pack']) assert.match(r.out, new RegExp(`^  ${c} `, 'm'));
    const run = promisify(execFile);
    const model = await run(process.execPath, [join(REPO, 'bin/paddle-model.mjs'), '--help'], { cwd: REPO });
    assert.match(model.stdout, /^usage: paddle-model COMMAND/);
    const sidecar = await run(process.execPath, [join(REPO, 'bin/paddle-sidecar.mjs'), '--help'], { cwd: REPO });
    assert.match(sidecar.stdout, /--model-dir/);
  });

  it('pushes a signed model to S3 and fetches it back verified, byte for byte', async () => {
    const pushed = await cli(['push', ...s3Flags('mlp/v1'), '--key', PUB, model.dir]);
    assert.equal(pushed.code, 0, pushed.err);
    assert.match(pushed.out, /pushed 3 files/);
    const dest = join(scratch, 'model');
    const r = await cli(fetchArgs(s3Flags('mlp/v1'), dest));
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirSync(dest).sort(), ['model.pdiparams', 'model.pdmodel', 'signature.json']);
    for (const f of readdirSync(dest)) assert.ok(readFileSync(join(dest, f)).equals(readFileSync(join(model.dir, f))), f);
    assert.match(termination(), /^fetched model\.pdiparams, model\.pdmodel \(\d+ bytes\) from s3:\/\/models\/mlp\/v1\/ .*signature verified \(Ed25519/);
    // The native loader accepts what fetch installed.
    const v = await cli(['verify', '--key', PUB, dest]);
    assert.equal(v.code, 0, v.err);
    assertNoSecret(pushed.out, pushed.err, r.out, r.err, termination());
  });

  it('refuses an object with one byte changed, naming the file, and installs nothing', async () => {
    assert.equal((await cli(['push', ...s3Flags('mlp/tampered'), model.dir])).code, 0);
    const bytes = readFileSync(join(model.dir, 'model.pdiparams'));
    bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0x01, bytes.length >> 1);
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    await client.send(new PutObjectCommand({ Bucket: 'models', Key: 'mlp/tampered/model.pdiparams', Body: bytes }));
    client.destroy();
    const dest = join(scratch, 'model');
    const r = await cli(fetchArgs(s3Flags('mlp/tampered'), dest));
    assert.equal(r.code, 1);
    assert.match(termination(), /^model refused: model\.pdiparams: SHA-256 [0-9a-f]{64} does not match [0-9a-f]{64} in signature\.json/);
    assert.deepEqual(readdirSync(dest), [], 'nothing is installed');
  });

  it('refuses a manifest signed by another key, and a missing object, naming the file', async () => {
    assert.equal((await cli(['push', ...s3Flags('mlp/v2'), model.dir])).code, 0);
    const wrongKey = await cli(fetchArgs(s3Flags('mlp/v2'), join(scratch, 'a')).map((a) => (a === PUB ? OTHER_PUB : a)));
    assert.equal(wrongKey.code, 1);
    assert.match(termination(), /^model refused: signature\.json is signed with Ed25519, but the trusted key is for RSA-PKCS1v15-SHA256/);
    const missing = await cli(fetchArgs(s3Flags('no/such/model'), join(scratch, 'b')));
    assert.equal(missing.code, 1);
    assert.match(termination(), /^download failed: GET s3:\/\/models\/no\/such\/model\/signature\.json: NoSuchKey \(HTTP 404\)/);
  });

  it('refuses a download over --max-bytes before writing it', async () => {
    assert.equal((await cli(['push', ...s3Flags('mlp/big'), model.dir])).code, 0);
    const r = await cli(fetchArgs(s3Flags('mlp/big'), join(scratch, 'm'), ['--max-bytes', '100000']));
    assert.equal(r.code, 1);
    assert.match(termination(), /^model refused: model\.pdiparams: 340\d+ bytes would exceed the size limit/);
  });

  it('wrong credentials: refused by the server (SigV4), not retried, and the secret never printed', async () => {
    const bad = join(scratch, 'bad');
    mkdirSync(bad);
    const wrongSecret = `${s3.secretAccessKey}x`;
    writeFileSync(join(bad, 'accessKeyId'), s3.accessKeyId);
    writeFileSync(join(bad, 'secretAccessKey'), wrongSecret);
    const r = await cli(fetchArgs(s3Flags('mlp/v1', bad), join(scratch, 'm')));
    assert.equal(r.code, 1);
    assert.match(termination(), /^download failed: GET s3:\/\/models\/mlp\/v1\/signature\.json: SignatureDoesNotMatch \(HTTP 403\)/);
    assert.doesNotMatch(r.out, /retry/);
    for (const t of [r.out, r.err, termination()]) assert.ok(!t.includes(wrongSecret) && !t.includes(s3.secretAccessKey), t);
  });

  it('retries a server that is not there yet with backoff, then reports the attempts', async () => {
    const r = await cli(fetchArgs(['--s3-endpoint', 'http://127.0.0.1:1', '--s3-bucket', 'models', '--credentials-dir', creds], join(scratch, 'm'), ['--retries', '2']));
    assert.equal(r.code, 1);
    assert.equal(r.out.match(/retry \d\/2 in \d+ ms/g)?.length, 2, r.out);
    assert.match(termination(), /^download failed: GET s3:\/\/models\/signature\.json: .*\(gave up after 3 attempts\)/);
    // Backoff doubles per attempt within +-25 %, capped at 30 s.
    assert.equal(backoffDelay(1, 500, () => 0.5), 500);
    assert.equal(backoffDelay(3, 500, () => 0.5), 2000);
    assert.equal(backoffDelay(20, 500, () => 1), 37_500);
  });

  describe('https sources', () => {
    let server: HttpsFileServer | undefined;
    const token = 'Bearer test-only-token-0123456789abcdef';
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    const httpsArgs = (caFile: string, headersFile?: string) => ['--url', server?.url ?? '', '--ca-file', caFile, ...(headersFile ? ['--headers-file', headersFile] : [])];

    it('fetches with a header from a file and a private CA; the header value never printed', async () => {
      server = await startHttpsFileServer({ dir: model.dir, requireHeader: ['authorization', token] });
      const ca = join(scratch, 'ca.pem');
      writeFileSync(ca, server.ca);
      const headers = join(scratch, 'headers');
      writeFileSync(headers, `# from the Secret\nAuthorization: ${token}\n`);
      const dest = join(scratch, 'model');
      const r = await cli(fetchArgs(httpsArgs(ca, headers), dest));
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(readdirSync(dest).sort(), ['model.pdiparams', 'model.pdmodel', 'signature.json']);
      assert.match(r.out, /\(headers: Authorization\)/);
      for (const t of [r.out, r.err, termination()]) assert.ok(!t.includes('test-only-token'), t);
      // Without the header: 401, permanent.
      const denied = await cli(fetchArgs(httpsArgs(ca), join(scratch, 'denied')));
      assert.equal(denied.code, 1);
      assert.match(termination(), /^download failed: GET https:\/\/127\.0\.0\.1:\d+\/models\/signature\.json: HTTP 401/);
    });

    it('retries a truncated transfer, then refuses it as partial; refuses a server it cannot trust', async () => {
      server = await startHttpsFileServer({ dir: model.dir, mutate: (name, b) => (name === 'model.pdiparams' ? 'truncate' : b) });
      const ca = join(scratch, 'ca.pem');
      writeFileSync(ca, server.ca);
      const r = await cli(fetchArgs(httpsArgs(ca), join(scratch, 'm'), ['--retries', '1']));
      assert.equal(r.code, 1);
      assert.match(r.out, /model\.pdiparams: .*retry 1\/1/);
      assert.match(termination(), /^download failed: model\.pdiparams: (partial download, got \d+ of 340\d+ bytes|the transfer broke after \d+ bytes).*\(gave up after 2 attempts\)/);
      assert.equal(server.requests.filter((q) => q.path.endsWith('/model.pdiparams')).length, 2);
      // Another server's CA does not vouch for this one.
      const other = await startHttpsFileServer({ dir: model.dir });
      await other.stop();
      const untrusted = join(scratch, 'other-ca.pem');
      writeFileSync(untrusted, other.ca);
      const u = await cli(fetchArgs(httpsArgs(untrusted), join(scratch, 'u'), ['--retries', '0']));
      assert.equal(u.code, 1);
      assert.match(termination(), /^download failed: .*(self-signed|unable to verify|certificate)/i);
    });

    it('parses header files and refuses malformed lines without echoing values', () => {
      assert.deepEqual(parseHeaders('A: 1\n\n# c\nX-Token:  two words \n', 'h'), { A: '1', 'X-Token': 'two words' });
      assert.throws(() => parseHeaders('no colon secret-value', 'h'), (e: Error) => /line 1: expected "Name: value"/.test(e.message) && !e.message.includes('secret-value'));
    });
  });

  it('keygen writes a key pair that signs and verifies; it never overwrites a key', async () => {
    const prefix = join(scratch, 'signing');
    const g = await cli(['keygen', '--out', prefix]);
    assert.equal(g.code, 0, g.err);
    assert.equal(statSync(`${prefix}.key.pem`).mode & 0o777, 0o600);
    const m = copyModel('mlp', 'pir');
    try {
      assert.equal((await cli(['sign', '--key', `${prefix}.key.pem`, m.dir])).code, 0);
      const v = await cli(['verify', '--key', `${prefix}.pub.pem`, m.dir]);
      assert.equal(v.code, 0, v.err);
      assert.match(v.out, /Ed25519/);
    } finally {
      m.cleanup();
    }
    assert.equal((await cli(['keygen', '--out', prefix])).code, 2);
    assert.equal((await cli(['keygen', '--out', join(scratch, 'r'), '--type', 'dsa'])).code, 2);
  });

  it('token mints an HS256 token with scope, iss, aud and exp; a short key is refused', async () => {
    const keyFile = join(scratch, 'hmac.key');
    writeFileSync(keyFile, `${'k'.repeat(40)}\n`);
    const r = await cli(['token', '--hmac-key', keyFile, '--scope', 'model_inference data_protection', '--issuer', 'iss-1', '--audience', 'aud-1', '--ttl', '120']);
    assert.equal(r.code, 0, r.err);
    const { payload, protectedHeader } = await jwtVerify(r.out.trim(), new TextEncoder().encode('k'.repeat(40)), { issuer: 'iss-1', audience: 'aud-1', algorithms: ['HS256'] });
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(payload.scope, 'model_inference data_protection');
    assert.ok(payload.exp && payload.iat && payload.exp - payload.iat === 120);
    writeFileSync(keyFile, 'short');
    const short = await cli(['token', '--hmac-key', keyFile, '--scope', 'x']);
    assert.equal(short.code, 2);
    assert.match(short.err, /holds 5 bytes; HS256 keys must be at least 32/);
  });

  it('pack writes an OCI image layout whose one layer holds the signed files', async () => {
    const layout = join(scratch, 'layout');
    const r = await cli(['pack', '--output', layout, '--ref', 'v1', '--key', PUB, model.dir]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(readFileSync(join(layout, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const blob = (digest: string) => readFileSync(join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, '')));
    const checked = (d: { digest: string; size: number }) => {
      const b = blob(d.digest);
      assert.equal(b.length, d.size);
      assert.equal(`sha256:${createHash('sha256').update(b).digest('hex')}`, d.digest);
      return b;
    };
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], 'v1');
    const manifest = JSON.parse(checked(index.manifests[0]).toString());
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const config = JSON.parse(checked(manifest.config).toString());
    assert.deepEqual(config.rootfs.diff_ids, [manifest.layers[0].digest]);
    checked(manifest.layers[0]);
    const out = join(scratch, 'extracted');
    mkdirSync(out);
    await extractTar({ file: join(layout, 'blobs', 'sha256', manifest.layers[0].digest.slice(7)), cwd: out });
    assert.deepEqual(readdirSync(out).sort(), ['model.pdiparams', 'model.pdmodel', 'signature.json']);
    const v = await cli(['verify', '--key', PUB, out]);
    assert.equal(v.code, 0, v.err);
    // Deterministic: packing again gives the same manifest digest.
    const again = join(scratch, 'again');
    assert.equal((await cli(['pack', '--output', again, '--ref', 'v1', model.dir])).code, 0);
    assert.equal(JSON.parse(readFileSync(join(again, 'index.json'), 'utf8')).manifests[0].digest, index.manifests[0].digest);
    // A model changed after signing is not packed.
    const m = copyModel('mlp', 'legacy');
    try {
      assert.equal((await cli(['sign', '--key', PRIV, m.dir])).code, 0);
      const p = join(m.dir, 'model.pdmodel');
      const b = readFileSync(p);
      b.writeUInt8(b.readUInt8(10) ^ 1, 10);
      writeFileSync(p, b);
      const refused = await cli(['pack', '--output', join(scratch, 'no'), m.dir]);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /model\.pdmodel: SHA-256 .* does not match/);
    } finally {
      m.cleanup();
    }
  });
});

