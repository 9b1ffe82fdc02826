// cert-manager's controller (built from its module, e2e/tools/cert-manager) fulfils Certificates
// through the e2e cluster's CA ClusterIssuer and namespaced CA Issuers.
import type { V1Secret } from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { applyObject, isNotFound, makeClients, useTestNamespace, waitForValue, type Clients } from '../src/index.js';

interface Certificate {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number };
  spec: Record<string, unknown>;
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string; observedGeneration?: number }[]; notAfter?: string; revision?: number };
}

const readyOf = (c: Certificate) => c.status?.conditions?.find((x) => x.type === 'Ready');
const sans = (x: X509Certificate) => (x.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)).sort();

// cert-manager under load can take minutes: each wait bounds a hang (ISSUE_TIMEOUT_MS), not an
// expected duration, and the mocha timeout is above the sum of one test's waits.
const ISSUE_TIMEOUT_MS = 180_000;

describe('cert-manager in the e2e cluster', function () {
  this.timeout(4 * ISSUE_TIMEOUT_MS);
  let clients: Clients;
  before(() => {
    clients = makeClients();
  });
  const ns = useTestNamespace(() => clients, 'certs');

  const getCert = (name: string) => clients.custom.getNamespacedCustomObject({
    group: 'cert-manager.io', version: 'v1', namespace: ns.name, plural: 'certificates', name,
  }) as Promise<Certificate>;

  const readSecret = async (name: string): Promise<V1Secret | null> => {
    try {
      return await clients.core.readNamespacedSecret({ namespace: ns.name, name });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  };

  function certificate(dnsNames: string[], issuerRef: Record<string, string>): Certificate {
    return {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'model-tls', namespace: ns.name },
      spec: { secretName: 'model-tls', commonName: dnsNames[0], dnsNames, usages: ['server auth', 'client auth', 'digital signature', 'key encipherment'], issuerRef, privateKey: { algorithm: 'ECDSA', size: 256 } },
    };
  }

  it('makes a Certificate Ready and writes a TLS Secret whose SANs match', async () => {
    const dnsNames = [`model.${ns.name}.svc`, `model.${ns.name}.svc.cluster.local`];
    await applyObject(clients.objects, certificate(dnsNames, { name: 'paddle-e2e-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' }));
    const cert = await waitForValue(() => getCert('model-tls'), (c) => readyOf(c)?.status === 'True', ISSUE_TIMEOUT_MS, 'Certificate model-tls Ready');
    assert.equal(readyOf(cert)?.observedGeneration, cert.metadata.generation);
    const secret = await readSecret('model-tls');
    assert.equal(secret?.type, 'kubernetes.io/tls');
    const data = secret?.data ?? {};
    for (const k of ['tls.crt', 'tls.key', 'ca.crt']) assert.ok(data[k], `Secret has ${k}`);
    const leaf = new X509Certificate(Buffer.from(data['tls.crt'] as string, 'base64'));
    const ca = new X509Certificate(Buffer.from(data['ca.crt'] as string, 'base64'));
    assert.deepEqual(sans(leaf), [...dnsNames].sort());
    assert.ok(leaf.verify(ca.publicKey), 'tls.crt is signed by ca.crt');
    assert.ok(leaf.checkPrivateKey(createPrivateKey(Buffer.from(data['tls.key'] as string, 'base64'))), 'tls.key matches tls.crt');
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(new Date(cert.status?.notAfter ?? 0).getTime(), new Date(leaf.validTo).getTime());
    assert.equal(leaf.publicKey.asymmetricKeyType, 'ec', 'spec.privateKey ECDSA');
    assert.equal(ca.subject, 'CN=paddle-e2e-issuer-ca', 'signed by the ClusterIssuer\'s CA');
  });

  it('reissues when the dnsNames change', async () => {
    const ref = { name: 'paddle-e2e-ca', kind: 'ClusterIssuer' };
    await applyObject(clients.objects, certificate(['a.example.test'], ref));
    const first = await waitForValue(() => getCert('model-tls'), (c) => readyOf(c)?.status === 'True', ISSUE_TIMEOUT_MS, 'first issue');
    await applyObject(clients.objects, certificate(['a.example.test', 'b.example.test'], ref));
    // Ready=True for the new generation, not only a new revision: under load cert-manager can
    // issue a second revision of the old spec (its trigger saw the Certificate before the Secret)
    // and mark Ready=False for the new generation while that revision's Secret still has one SAN.
    await waitForValue(
      () => getCert('model-tls'),
      (c) => (c.status?.revision ?? 0) > (first.status?.revision ?? 0) && readyOf(c)?.status === 'True' && readyOf(c)?.observedGeneration === c.metadata.generation,
      ISSUE_TIMEOUT_MS,
      'Ready for the new generation, at a new revision',
    );
    const secret = await readSecret('model-tls');
    assert.deepEqual(sans(new X509Certificate(Buffer.from(secret?.data?.['tls.crt'] as string, 'base64'))), ['a.example.test', 'b.example.test']);
  });

  it('waits for a namespaced CA Issuer that does not exist yet, then issues from its CA', async () => {
    await applyObject(clients.objects, certificate(['late.example.test'], { name: 'late-issuer', kind: 'Issuer', group: 'cert-manager.io' }));
    const pending = await waitForValue(() => getCert('model-tls'), (c) => readyOf(c)?.status === 'False', ISSUE_TIMEOUT_MS, 'the Certificate not Ready');
    assert.equal(readyOf(pending)?.status, 'False');
    assert.equal(await readSecret('model-tls'), null, 'no Secret before the issuer exists');
    // The Issuer's CA: a self-signed Certificate from a namespaced SelfSigned Issuer (cert-manager's own bootstrap).
    await applyObject(clients.objects, { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'bootstrap', namespace: ns.name }, spec: { selfSigned: {} } });
    await applyObject(clients.objects, {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'late-ca', namespace: ns.name },
      spec: { isCA: true, commonName: 'late-ca', secretName: 'late-ca', privateKey: { algorithm: 'ECDSA', size: 256 }, issuerRef: { name: 'bootstrap', kind: 'Issuer' } },
    });
    await applyObject(clients.objects, { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'late-issuer', namespace: ns.name }, spec: { ca: { secretName: 'late-ca' } } });
    await waitForValue(() => getCert('model-tls'), (c) => readyOf(c)?.status === 'True', ISSUE_TIMEOUT_MS, 'Ready once the Issuer exists');
    const issuer = await clients.custom.getNamespacedCustomObject({ group: 'cert-manager.io', version: 'v1', namespace: ns.name, plural: 'issuers', name: 'late-issuer' }) as Certificate;
    assert.equal(readyOf(issuer)?.status, 'True');
    const secret = await readSecret('model-tls');
    const leaf = new X509Certificate(Buffer.from(secret?.data?.['tls.crt'] as string, 'base64'));
    assert.equal(leaf.issuer, 'CN=late-ca');
  });
});
