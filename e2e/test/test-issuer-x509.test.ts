import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildExtensions,
  computeLifetime,
  computeSpecHash,
  dnsNamesOf,
  ipAddressesOf,
  issueCertificate,
  parseGoDuration,
  type CertificateSpec,
} from '../cluster/test-issuer-x509.js';

const base: CertificateSpec = { secretName: 's', issuerRef: { name: 'ca', kind: 'ClusterIssuer' } };

describe('test issuer: Go durations', () => {
  it('parses cert-manager style durations', () => {
    assert.equal(parseGoDuration('2160h'), 2160 * 3_600_000);
    assert.equal(parseGoDuration('1h30m'), 5_400_000);
    assert.equal(parseGoDuration('720h0m0s'), 720 * 3_600_000);
    assert.equal(parseGoDuration('1.5s'), 1500);
  });
  it('rejects malformed durations', () => {
    assert.throws(() => parseGoDuration('90d'), /invalid duration "90d"/);
    assert.throws(() => parseGoDuration('1h x'), /invalid duration/);
    assert.throws(() => parseGoDuration(''), /empty duration/);
  });
  it('defaults to 90 days, renewing a third before expiry', () => {
    const { durationMs, renewBeforeMs } = computeLifetime(base);
    assert.equal(durationMs, 90 * 24 * 3_600_000);
    assert.equal(renewBeforeMs, 30 * 24 * 3_600_000);
  });
  it('refuses renewBefore >= duration and durations under an hour', () => {
    assert.throws(() => computeLifetime({ ...base, duration: '24h', renewBefore: '48h' }), /renewBefore 48h must be shorter/);
    assert.throws(() => computeLifetime({ ...base, duration: '30m' }), /shorter than the 1h minimum/);
  });
});

describe('test issuer: extensions', () => {
  it('maps usages to key usage and extended key usage, and lists SANs', () => {
    const ext = buildExtensions({ ...base, usages: ['digital signature', 'key encipherment', 'server auth', 'client auth'], dnsNames: ['a.svc', 'b.svc'], ipAddresses: ['10.0.0.7'] });
    assert.ok(ext.includes('keyUsage=critical,digitalSignature,keyEncipherment'));
    assert.ok(ext.includes('extendedKeyUsage=serverAuth,clientAuth'));
    assert.ok(ext.includes('subjectAltName=DNS:a.svc,DNS:b.svc,IP:10.0.0.7'));
    assert.ok(ext.includes('basicConstraints=critical,CA:FALSE'));
  });
  it('rejects an unknown usage', () => {
    assert.throws(() => buildExtensions({ ...base, usages: ['telepathy'] }), /unknown usage "telepathy"/);
  });
  it('spec hash changes with the SANs and not with secretName', () => {
    const h = computeSpecHash({ ...base, dnsNames: ['a'] });
    assert.equal(computeSpecHash({ ...base, secretName: 'other', dnsNames: ['a'] }), h);
    assert.notEqual(computeSpecHash({ ...base, dnsNames: ['a', 'b'] }), h);
  });
});

describe('test issuer: issuing with openssl', function () {
  this.timeout(30_000);
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'issuer-test-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '2', '-subj', '/CN=unit-test-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const privateKey of [{ algorithm: 'RSA' as const }, { algorithm: 'ECDSA' as const, size: 384 }, { algorithm: 'Ed25519' as const }]) {
    it(`signs a ${privateKey.algorithm} key with the SANs, usages and lifetime asked for`, async () => {
      const spec: CertificateSpec = {
        ...base, commonName: 'model.ns.svc', dnsNames: ['model.ns.svc', 'model.ns.svc.cluster.local'], ipAddresses: ['127.0.0.1'],
        usages: ['server auth', 'client auth', 'digital signature'], duration: '48h', privateKey,
      };
      const out = await issueCertificate(spec, join(dir, 'ca.crt'), join(dir, 'ca.key'));
      const cert = new X509Certificate(out.certPem);
      const ca = new X509Certificate(out.caPem);
      assert.ok(cert.verify(ca.publicKey), 'certificate is signed by the CA');
      assert.ok(cert.checkIssued(ca));
      assert.deepEqual(dnsNamesOf(cert), ['model.ns.svc', 'model.ns.svc.cluster.local']);
      assert.deepEqual(ipAddressesOf(cert), ['127.0.0.1']);
      assert.match(cert.subject, /CN=model\.ns\.svc/);
      assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
      assert.equal(cert.ca, false);
      const lifetimeDays = (out.notAfter.getTime() - out.notBefore.getTime()) / 86_400_000;
      assert.ok(Math.abs(lifetimeDays - 2) < 0.01, `lifetime ${lifetimeDays} days`);
      const key = createPrivateKey(out.keyPem);
      assert.ok(cert.checkPrivateKey(key), 'tls.key matches tls.crt');
      assert.equal(key.asymmetricKeyType, { RSA: 'rsa', ECDSA: 'ec', Ed25519: 'ed25519' }[privateKey.algorithm]);
    });
  }
});
