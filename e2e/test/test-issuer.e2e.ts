// The e2e test issuer (stand-in for cert-manager) fulfils Certificates.
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

describe('e2e test issuer (cert-manager stand-in)', () => {
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
    const cert = await waitForValue(() => getCert('model-tls'), (c) => readyOf(c)?.status === 'True', 30_000, 'Certificate model-tls Ready');
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
  });

  it('reissues when the dnsNames change', async () => {
    const ref = { name: 'paddle-e2e-ca', kind: 'ClusterIssuer' };
    await applyObject(clients.objects, certificate(['a.example.test'], ref));
    const first = await waitForValue(() => getCert('model-tls'), (c) => readyOf(c)?.status === 'True', 30_000, 'first issue');
    await applyObject(clients.objects, certificate(['a.example.test', 'b.example.test'], ref));
    await waitForValue(() => getCert('model-tls'), (c) => (c.status?.revision ?? 0) > (first.status?.revision ?? 0) && readyOf(c)?.observedGeneration === c.metadata.generation,
      30_000, 'a new revision after the spec change');
    const secret = await readSecret('model-tls');
    assert.deepEqual(sans(new X509Certificate(Buffer.from(secret?.data?.['tls.crt'] as string, 'base64'))), ['a.example.test', 'b.example.test']);
  });

  it('reports IssuerNotFound until the namespaced Issuer exists, then issues', async () => {
    await applyObject(clients.objects, certificate(['late.example.test'], { name: 'late-issuer' }));
    const pending = await waitForValue(() => getCert('model-tls'), (c) => readyOf(c)?.reason === 'IssuerNotFound', 30_000, 'IssuerNotFound');
    assert.equal(readyOf(pending)?.status, 'False');
    assert.equal(await readSecret('model-tls'), null, 'no Secret before the issuer exists');
    await applyObject(clients.objects, { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'late-issuer', namespace: ns.name }, spec: {} });
    await waitForValue(() => getCert('model-tls'), (c) => readyOf(c)?.status === 'True', 45_000, 'Ready once the Issuer exists');
    const issuer = await clients.custom.getNamespacedCustomObject({ group: 'cert-manager.io', version: 'v1', namespace: ns.name, plural: 'issuers', name: 'late-issuer' }) as Certificate;
    assert.equal(readyOf(issuer)?.status, 'True');
  });
});
