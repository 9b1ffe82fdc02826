// X.509 issuing for the e2e test issuer (a stand-in for cert-manager, e2e only).
// Keys come from node:crypto; certificates are signed by the openssl CLI with the test CA,
// because node:crypto can parse certificates but not create them.
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, KeyObject, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The subset of a cert-manager Certificate spec the test issuer honours. */
export interface CertificateSpec {
  secretName: string;
  commonName?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
  duration?: string;
  renewBefore?: string;
  isCA?: boolean;
  usages?: string[];
  issuerRef: { name: string; kind?: string; group?: string };
  privateKey?: { algorithm?: 'RSA' | 'ECDSA' | 'Ed25519'; size?: number; encoding?: 'PKCS1' | 'PKCS8' };
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  caPem: string;
  notBefore: Date;
  notAfter: Date;
}

export const DEFAULT_DURATION_MS = 2160 * 3600 * 1000; // 90 days, cert-manager's default
const DAY_MS = 24 * 3600 * 1000;

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
};

/** Parses a Go duration string ("2160h", "1h30m", "720h0m0s") into milliseconds. */
export function parseGoDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  if (text.length === 0) throw new Error('empty duration');
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * (DURATION_UNITS_MS[m[2] as string] as number);
    consumed = re.lastIndex;
  }
  if (consumed !== text.length) throw new Error(`invalid duration ${JSON.stringify(text)} (expected a Go duration such as 2160h or 1h30m)`);
  return total;
}

/** Certificate lifetime and the time before expiry at which it is renewed. */
export function computeLifetime(spec: CertificateSpec): { durationMs: number; renewBeforeMs: number } {
  const durationMs = spec.duration ? parseGoDuration(spec.duration) : DEFAULT_DURATION_MS;
  if (durationMs < 3_600_000) throw new Error(`spec.duration ${spec.duration} is shorter than the 1h minimum`);
  const renewBeforeMs = spec.renewBefore ? parseGoDuration(spec.renewBefore) : durationMs / 3;
  if (renewBeforeMs >= durationMs) throw new Error(`spec.renewBefore ${spec.renewBefore} must be shorter than spec.duration`);
  return { durationMs, renewBeforeMs };
}

const KEY_USAGES: Record<string, string> = {
  signing: 'digitalSignature',
  'digital signature': 'digitalSignature',
  'content commitment': 'nonRepudiation',
  'key encipherment': 'keyEncipherment',
  'key agreement': 'keyAgreement',
  'data encipherment': 'dataEncipherment',
  'cert sign': 'keyCertSign',
  'crl sign': 'cRLSign',
  'encipher only': 'encipherOnly',
  'decipher only': 'decipherOnly',
};

const EXTENDED_KEY_USAGES: Record<string, string> = {
  any: 'anyExtendedKeyUsage',
  'server auth': 'serverAuth',
  'client auth': 'clientAuth',
  'code signing': 'codeSigning',
  'email protection': 'emailProtection',
  's/mime': 'emailProtection',
  'ipsec end system': 'ipsecEndSystem',
  'ipsec tunnel': 'ipsecTunnel',
  'ipsec user': 'ipsecUser',
  timestamping: 'timeStamping',
  'ocsp signing': 'OCSPSigning',
  'microsoft sgc': 'msSGC',
  'netscape sgc': 'nsSGC',
};

/** The openssl extension lines (v3 extensions config) for a Certificate spec. */
export function buildExtensions(spec: CertificateSpec): string[] {
  const usages = spec.usages && spec.usages.length > 0 ? spec.usages : ['digital signature', 'key encipherment'];
  const ku = new Set<string>();
  const eku = new Set<string>();
  for (const u of usages) {
    const k = KEY_USAGES[u];
    const e = EXTENDED_KEY_USAGES[u];
    if (k) ku.add(k);
    else if (e) eku.add(e);
    else throw new Error(`unknown usage ${JSON.stringify(u)}`);
  }
  if (spec.isCA) ku.add('keyCertSign');
  const sans = [
    ...(spec.dnsNames ?? []).map((d) => `DNS:${d}`),
    ...(spec.ipAddresses ?? []).map((ip) => `IP:${ip}`),
    ...(spec.uris ?? []).map((u) => `URI:${u}`),
  ];
  const lines = [
    `basicConstraints=critical,CA:${spec.isCA ? 'TRUE' : 'FALSE'}`,
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ];
  if (ku.size > 0) lines.push(`keyUsage=critical,${[...ku].join(',')}`);
  if (eku.size > 0) lines.push(`extendedKeyUsage=${[...eku].join(',')}`);
  if (sans.length > 0) lines.push(`subjectAltName=${sans.join(',')}`);
  return lines;
}

/** A fingerprint of the spec fields that shape the issued certificate. */
export function computeSpecHash(spec: CertificateSpec): string {
  const relevant = {
    commonName: spec.commonName ?? '',
    dnsNames: spec.dnsNames ?? [],
    ipAddresses: spec.ipAddresses ?? [],
    uris: spec.uris ?? [],
    duration: spec.duration ?? '',
    isCA: spec.isCA ?? false,
    usages: spec.usages ?? [],
    privateKey: spec.privateKey ?? {},
    issuerRef: spec.issuerRef,
  };
  return createHash('sha256').update(JSON.stringify(relevant)).digest('hex').slice(0, 32);
}

function generateKey(spec: CertificateSpec): { privateKey: KeyObject; keyPem: string } {
  const algorithm = spec.privateKey?.algorithm ?? 'RSA';
  const pkcs8 = spec.privateKey?.encoding === 'PKCS8';
  if (algorithm === 'RSA') {
    const size = spec.privateKey?.size ?? 2048;
    if (![2048, 3072, 4096, 8192].includes(size)) throw new Error(`unsupported RSA key size ${size}`);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: size });
    return { privateKey, keyPem: privateKey.export({ type: pkcs8 ? 'pkcs8' : 'pkcs1', format: 'pem' }).toString() };
  }
  if (algorithm === 'ECDSA') {
    const curves: Record<number, string> = { 256: 'prime256v1', 384: 'secp384r1', 521: 'secp521r1' };
    const size = spec.privateKey?.size ?? 256;
    const namedCurve = curves[size];
    if (!namedCurve) throw new Error(`unsupported ECDSA key size ${size} (256, 384 or 521)`);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve });
    return { privateKey, keyPem: privateKey.export({ type: pkcs8 ? 'pkcs8' : 'sec1', format: 'pem' }).toString() };
  }
  if (algorithm === 'Ed25519') {
    const { privateKey } = generateKeyPairSync('ed25519');
    return { privateKey, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
  }
  throw new Error(`unsupported private key algorithm ${String(algorithm)}`);
}

/** Escapes a value for an openssl -subj string. */
function subjectValue(v: string): string {
  return v.replace(/[\\/=+,]/g, (c) => `\\${c}`);
}

/**
 * Issues a certificate for the spec: a new key pair signed by the CA (caCertPath, caKeyPath).
 * Validity is whole days (openssl x509 -days), rounded up from spec.duration.
 */
export async function issueCertificate(spec: CertificateSpec, caCertPath: string, caKeyPath: string): Promise<IssuedCertificate> {
  const { durationMs } = computeLifetime(spec);
  const extensions = buildExtensions(spec);
  const { keyPem } = generateKey(spec);
  const dir = await mkdtemp(join(tmpdir(), 'paddle-e2e-issuer-'));
  try {
    const keyFile = join(dir, 'tls.key');
    const csrFile = join(dir, 'tls.csr');
    const extFile = join(dir, 'ext.cnf');
    const crtFile = join(dir, 'tls.crt');
    await writeFile(keyFile, keyPem, { mode: 0o600 });
    await writeFile(extFile, `${extensions.join('\n')}\n`);
    const subject = spec.commonName ? `/CN=${subjectValue(spec.commonName)}` : '/';
    await execFileAsync('openssl', ['req', '-new', '-key', keyFile, '-subj', subject, '-out', csrFile]);
    const days = String(Math.max(1, Math.ceil(durationMs / DAY_MS)));
    await execFileAsync('openssl', [
      'x509', '-req', '-in', csrFile, '-CA', caCertPath, '-CAkey', caKeyPath, '-CAcreateserial',
      '-CAserial', join(dir, 'ca.srl'), '-sha256', '-days', days, '-extfile', extFile, '-out', crtFile,
    ]);
    const certPem = await readFile(crtFile, 'utf8');
    const caPem = await readFile(caCertPath, 'utf8');
    const x = new X509Certificate(certPem);
    return { certPem, keyPem, caPem, notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The DNS names in a certificate's subjectAltName. */
export function dnsNamesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
}

/** The IP addresses in a certificate's subjectAltName. */
export function ipAddressesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('IP Address:'))
    .map((s) => s.slice('IP Address:'.length));
}
