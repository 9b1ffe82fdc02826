// signature.json: the signed manifest of a model directory. The format is the native loader's
// (native/README.md, "Loading and verification"): `files` maps each file name to its SHA-256
// (hex); the manifest is `<hex>  <name>\n` per file, sorted by name (sha256sum's format), and
// `signature` is that manifest signed with RSA-PKCS1v15-SHA256, ECDSA-P256-SHA256 (DER) or
// Ed25519. This module signs it and checks it in JavaScript, for the steps that run before the
// native loader sees the files (fetch, push, pack).

import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './args.js';

export const ALGORITHMS = ['RSA-PKCS1v15-SHA256', 'ECDSA-P256-SHA256', 'Ed25519'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];
export const SIGNATURE_FILE = 'signature.json';
/** signature.json is small; anything larger is refused before it is parsed. */
export const MAX_SIGNATURE_BYTES = 1024 * 1024;

export interface SignatureDoc {
  version: 1;
  algorithm: Algorithm;
  keyId?: string;
  files: Record<string, string>;
  signature: string;
}

/** A model refused: tampered, partial, unsigned, oversized. `file` names the file when one is at fault. */
export class ModelRefusedError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'ModelRefusedError';
  }
}

export function algorithmFor(key: KeyObject): Algorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RSA-PKCS1v15-SHA256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ECDSA-P256-SHA256';
  if (key.asymmetricKeyType === 'ed25519') return 'Ed25519';
  throw new UsageError(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (RSA, EC P-256 or Ed25519)`);
}

/** The files of a model directory that are signed: the program, the parameters. */
export function modelFiles(dir: string): string[] {
  const names = ['model.pdmodel', 'model.json', 'model.pdiparams'].filter((n) => existsSync(join(dir, n)));
  if (!names.includes('model.pdmodel') && !names.includes('model.json')) {
    throw new UsageError(`${dir} holds neither model.pdmodel nor model.json`);
  }
  return names.sort();
}

export function manifestText(files: Record<string, string>): string {
  return Object.keys(files)
    .sort()
    .map((n) => `${files[n]}  ${n}\n`)
    .join('');
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Signs `files` (name -> SHA-256 hex) with `key`; the key id defaults to a prefix of the SPKI hash. */
export function signManifest(files: Record<string, string>, key: KeyObject, algorithm: Algorithm, keyId?: string): SignatureDoc {
  const signature = sign(algorithm === 'Ed25519' ? null : 'sha256', Buffer.from(manifestText(files)), key).toString('base64');
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return { version: 1, algorithm, keyId: keyId ?? sha256Hex(spki).slice(0, 16), files, signature };
}

/** A plain file name: what a manifest may list (no directories, no traversal, no hidden tricks). */
export function isPlainName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/.test(name) && name !== SIGNATURE_FILE;
}

/** Parses and shape-checks signature.json bytes; every problem is a ModelRefusedError naming it. */
export function parseSignature(bytes: Buffer): SignatureDoc {
  if (bytes.length > MAX_SIGNATURE_BYTES) throw new ModelRefusedError(`${SIGNATURE_FILE} is ${bytes.length} bytes, over the ${MAX_SIGNATURE_BYTES}-byte limit`, SIGNATURE_FILE);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ModelRefusedError(`${SIGNATURE_FILE} is not JSON: ${(err as Error).message}`, SIGNATURE_FILE);
  }
  const d = doc as Partial<SignatureDoc> | null;
  const bad = (what: string) => new ModelRefusedError(`${SIGNATURE_FILE}: ${what}`, SIGNATURE_FILE);
  if (!d || typeof d !== 'object' || Array.isArray(d)) throw bad('not a JSON object');
  if (d.version !== 1) throw bad(`version must be 1, got ${JSON.stringify(d.version)}`);
  if (!ALGORITHMS.includes(d.algorithm as Algorithm)) throw bad(`unknown algorithm ${JSON.stringify(d.algorithm)}`);
  if (typeof d.signature !== 'string' || d.signature === '') throw bad('signature must be a non-empty base64 string');
  if (d.keyId !== undefined && typeof d.keyId !== 'string') throw bad('keyId must be a string');
  if (!d.files || typeof d.files !== 'object' || Array.isArray(d.files)) throw bad('files must map file names to SHA-256 digests');
  const names = Object.keys(d.files);
  if (names.length === 0) throw bad('files is empty');
  for (const name of names) {
    if (!isPlainName(name)) throw bad(`file name ${JSON.stringify(name)} is not a plain file name`);
    const digest = (d.files as Record<string, unknown>)[name];
    if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest)) throw bad(`${name}: digest must be 64 lowercase hex characters`);
  }
  if (!names.includes('model.pdmodel') && !names.includes('model.json') && !names.some((n) => /\.(pdmodel|json)$/.test(n))) {
    throw bad('lists no program file (model.pdmodel or model.json)');
  }
  return d as SignatureDoc;
}

/** Checks the signature over the manifest with `publicKey`; throws ModelRefusedError when it does not verify. */
export function verifySignature(doc: SignatureDoc, publicKey: KeyObject): void {
  const expected = algorithmFor(publicKey);
  if (expected !== doc.algorithm) {
    throw new ModelRefusedError(`${SIGNATURE_FILE} is signed with ${doc.algorithm}, but the trusted key is for ${expected}`, SIGNATURE_FILE);
  }
  const sig = Buffer.from(doc.signature, 'base64');
  const ok = verify(doc.algorithm === 'Ed25519' ? null : 'sha256', Buffer.from(manifestText(doc.files)), publicKey, sig);
  if (!ok) throw new ModelRefusedError(`${SIGNATURE_FILE}: the signature does not verify with the trusted key (keyId ${doc.keyId ?? '-'})`, SIGNATURE_FILE);
}

/** Reads the public key file; a bad key is a usage error naming the file. */
export function readPublicKey(path: string): KeyObject {
  try {
    return createPublicKey(readFileSync(path));
  } catch (err) {
    throw new UsageError(`cannot read public key ${path}: ${(err as Error).message}`);
  }
}
