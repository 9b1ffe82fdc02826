// CHECKLIST 2.3: digests and the manifest signature are checked before anything is parsed.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelVerificationError, Predictor } from '../lib/index.js';
import { type Algorithm, copyModel, digestsOf, key, manifestOf, modelDir, sha256Hex, writeSignature } from './fixtures.js';

const RSA_PUB = key('rsa2048', 'pub');

async function rejectsVerification(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ModelVerificationError, `expected ModelVerificationError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_MODEL_VERIFICATION');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('model verification', function () {
  let scratch: { dir: string; cleanup: () => void };
  beforeEach(() => {
    scratch = copyModel('mlp', 'legacy');
  });
  afterEach(() => scratch.cleanup());

  it('loads the committed RSA, ECDSA and Ed25519 signatures and reports them', async () => {
    const cases: [string, Algorithm, string][] = [
      ['signature.json', 'RSA-PKCS1v15-SHA256', RSA_PUB],
      ['signature.ecdsa.json', 'ECDSA-P256-SHA256', key('ecdsa-p256', 'pub')],
      ['signature.ed25519.json', 'Ed25519', key('ed25519', 'pub')],
    ];
    for (const [file, algorithm, pub] of cases) {
      copyFileSync(join(modelDir('mlp', 'legacy'), file), join(scratch.dir, 'signature.json'));
      const p = await Predictor.load({ modelDir: scratch.dir, publicKeyPem: pub });
      const info = p.info();
      p.dispose();
      assert.equal(info.verified, true);
      assert.equal(info.algorithm, algorithm);
      assert.ok(info.verifiedAt && !Number.isNaN(Date.parse(info.verifiedAt)));
      const files = JSON.parse(readFileSync(join(scratch.dir, 'signature.json'), 'utf8')).files as Record<string, string>;
      assert.equal(info.digest, sha256Hex(Buffer.from(manifestOf(files))));
    }
  });

  it('verifies a PIR model directory too', async () => {
    const p = await Predictor.load({ modelDir: modelDir('cnn', 'pir'), publicKeyPem: RSA_PUB });
    assert.equal(p.info().format, 'pir');
    assert.equal(p.info().verified, true);
    p.dispose();
  });

  for (const file of ['model.pdmodel', 'model.pdiparams']) {
    it(`refuses one flipped byte in ${file}, naming the file and both digests`, async () => {
      const path = join(scratch.dir, file);
      const bytes = readFileSync(path);
      const expected = sha256Hex(bytes);
      bytes.writeUInt8(bytes.readUInt8(Math.floor(bytes.length / 2)) ^ 0x01, Math.floor(bytes.length / 2));
      writeFileSync(path, bytes);
      await rejectsVerification(
        Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }),
        new RegExp(`digest mismatch for ${file.replace('.', '\\.')}: signature.json expects sha256 ${expected}, file has ${sha256Hex(bytes)}`),
      );
    });
  }

  it('refuses a flipped bit in the signature', async () => {
    const path = join(scratch.dir, 'signature.json');
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    const sig = Buffer.from(doc.signature, 'base64');
    sig.writeUInt8(sig.readUInt8(10) ^ 0x80, 10);
    doc.signature = sig.toString('base64');
    writeFileSync(path, JSON.stringify(doc));
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }), /bad signature/);
  });

  it('refuses the wrong key: another RSA key, and a key of another type', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: other }), /bad signature/);
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: key('ed25519', 'pub') }), /wrong key/);
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: 'not a pem' }), /PEM/);
  });

  it('refuses bad base64', async () => {
    const path = join(scratch.dir, 'signature.json');
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    doc.signature = 'abc$def=';
    writeFileSync(path, JSON.stringify(doc));
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }), /base64/);
  });

  it('refuses a signature made over a different manifest', async () => {
    const files = digestsOf(scratch.dir, ['model.pdiparams', 'model.pdmodel']);
    const forged = manifestOf({ ...files, 'model.pdiparams': '0'.repeat(64) });
    writeSignature(scratch.dir, files, 'RSA-PKCS1v15-SHA256', forged);
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }), /bad signature/);
  });

  it('refuses a missing signature.json unless requireSignature is explicitly false', async () => {
    rmSync(join(scratch.dir, 'signature.json'));
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }), /signature\.json is missing/);
    const p = await Predictor.load({ modelDir: scratch.dir, requireSignature: false });
    const info = p.info();
    p.dispose();
    assert.equal(info.verified, false);
    assert.equal(info.algorithm, undefined);
    const files = digestsOf(scratch.dir, ['model.pdiparams', 'model.pdmodel']);
    assert.equal(info.digest, sha256Hex(Buffer.from(manifestOf(files))));
  });

  it('refuses a load without a public key when signatures are required', async () => {
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir }), /no publicKeyPem/);
  });

  it('refuses a manifest entry whose file is missing (extra entry), even when properly signed', async () => {
    const files = { ...digestsOf(scratch.dir, ['model.pdiparams', 'model.pdmodel']), 'vocab.txt': 'a'.repeat(64) };
    writeSignature(scratch.dir, files);
    await rejectsVerification(
      Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }),
      /vocab\.txt is listed in signature\.json but missing/,
    );
  });

  it('refuses a model file missing from the manifest, even when properly signed', async () => {
    writeSignature(scratch.dir, digestsOf(scratch.dir, ['model.pdmodel']));
    await rejectsVerification(
      Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }),
      /model file model\.pdiparams is not listed in signature\.json/,
    );
  });

  it('accepts re-signed manifests with each algorithm and refuses an unknown algorithm', async () => {
    const files = digestsOf(scratch.dir, ['model.pdiparams', 'model.pdmodel']);
    const pubs: Record<Algorithm, string> = {
      'RSA-PKCS1v15-SHA256': RSA_PUB,
      'ECDSA-P256-SHA256': key('ecdsa-p256', 'pub'),
      Ed25519: key('ed25519', 'pub'),
    };
    for (const algorithm of Object.keys(pubs) as Algorithm[]) {
      writeSignature(scratch.dir, files, algorithm);
      const p = await Predictor.load({ modelDir: scratch.dir, publicKeyPem: pubs[algorithm] });
      assert.equal(p.info().algorithm, algorithm);
      p.dispose();
    }
    const path = join(scratch.dir, 'signature.json');
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    doc.algorithm = 'DSA-SHA1';
    writeFileSync(path, JSON.stringify(doc));
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }), /unknown algorithm "DSA-SHA1"/);
  });

  it('refuses a signature.json that is not JSON or lacks fields', async () => {
    const path = join(scratch.dir, 'signature.json');
    writeFileSync(path, '{"version":1,');
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }), /not valid JSON/);
    writeFileSync(path, JSON.stringify({ version: 2, algorithm: 'Ed25519', files: {}, signature: '' }));
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }), /"version" must be 1/);
    writeFileSync(path, JSON.stringify({ version: 1, algorithm: 'Ed25519', files: { '../x': 'a'.repeat(64) }, signature: 'AAAA' }));
    await rejectsVerification(Predictor.load({ modelDir: scratch.dir, publicKeyPem: RSA_PUB }), /not a plain file name/);
  });
});
