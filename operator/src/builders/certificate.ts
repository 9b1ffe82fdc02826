// cert-manager Certificate for the serving port: the Service's DNS names, the issuer from the
// spec, server auth (and client auth for mutual TLS, where the same CA signs client certs).

import type { PaddleService } from '../../../crds/src/index.js';
import { InvalidSpecError } from '../errors.js';
import { childMeta, childNames, nameOf, namespaceOf, type ChildMeta } from './common.js';

export const CERTIFICATE_API_VERSION = 'cert-manager.io/v1';

export interface BuiltCertificate {
  apiVersion: typeof CERTIFICATE_API_VERSION;
  kind: 'Certificate';
  metadata: ChildMeta;
  spec: {
    secretName: string;
    commonName: string;
    dnsNames: string[];
    duration: string;
    renewBefore: string;
    issuerRef: { name: string; kind: string; group: string };
    usages: string[];
    privateKey: { algorithm: 'ECDSA'; size: 256; rotationPolicy: 'Always' };
  };
}

/** Undefined when TLS is disabled. */
export function buildCertificate(ps: PaddleService, clusterDomain: string): BuiltCertificate | undefined {
  const tls = ps.spec.tls;
  if (tls?.enabled === false) return undefined;
  if (!tls?.issuerRef) throw new InvalidSpecError('spec.tls.issuerRef: required when TLS is enabled');
  const name = nameOf(ps);
  const ns = namespaceOf(ps);
  const names = childNames(name);
  const usages = ['digital signature', 'key encipherment', 'server auth'];
  if (tls.mutual) usages.push('client auth');
  return {
    apiVersion: CERTIFICATE_API_VERSION,
    kind: 'Certificate',
    metadata: childMeta(ps, names.certificate, 'tls'),
    spec: {
      secretName: names.tlsSecret,
      commonName: `${name}.${ns}.svc`,
      dnsNames: [name, `${name}.${ns}`, `${name}.${ns}.svc`, `${name}.${ns}.svc.${clusterDomain}`],
      duration: '2160h',
      renewBefore: '360h',
      issuerRef: {
        name: tls.issuerRef.name,
        kind: tls.issuerRef.kind ?? 'Issuer',
        group: tls.issuerRef.group ?? 'cert-manager.io',
      },
      usages,
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    },
  };
}
