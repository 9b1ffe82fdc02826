// Test helpers: the Paddle fixtures (native/fixtures), temp copies of model dirs, signing
// with the committed TEST-ONLY keys (node:crypto) to build tampered or re-signed models.
import { createHash, sign, type KeyObject, createPrivateKey } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../lib/index.js';

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures');
export const MODELS = ['mlp', 'cnn', 'transformer', 'opset'] as const;
export const FORMATS = ['legacy', 'pir'] as const;
export type ModelName = (typeof MODELS)[number];
export type FormatName = (typeof FORMATS)[number];

export function key(name: 'rsa2048' | 'ecdsa-p256' | 'ed25519', kind: 'pub' | 'key'): string {
  return readFileSync(join(FIXTURES, 'keys', `test-only-${name}.${kind}.pem`), 'utf8');
}

interface RawTensor {
  dtype: 'float32' | 'int64' | 'int32';
  shape: number[];
  data: string;
}
export interface Case {
  id: string;
  inputs: Record<string, Tensor>;
  outputs: Record<FormatName, Tensor[]>;
}

export function decodeTensor(t: RawTensor): Tensor {
  const buf = Buffer.from(t.data, 'base64');
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  const data = t.dtype === 'float32' ? new Float32Array(ab) : t.dtype === 'int64' ? new BigInt64Array(ab) : new Int32Array(ab);
  return { dtype: t.dtype, shape: t.shape, data };
}

export function loadCases(model: ModelName): { cases: Case[]; outputNames: Record<FormatName, string[]> } {
  const doc = JSON.parse(readFileSync(join(FIXTURES, 'models', model, 'cases.json'), 'utf8')) as {
    formats: Record<FormatName, { outputNames: string[] }>;
    cases: { id: string; inputs: Record<string, RawTensor>; outputs: Record<FormatName, RawTensor[]> }[];
  };
  const cases = doc.cases.map((c) => ({
    id: c.id,
    inputs: Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, decodeTensor(v)])),
    outputs: {
      legacy: c.outputs.legacy.map(decodeTensor),
      pir: c.outputs.pir.map(decodeTensor),
    },
  }));
  return { cases, outputNames: { legacy: doc.formats.legacy.outputNames, pir: doc.formats.pir.outputNames } };
}

export function modelDir(model: ModelName, format: FormatName): string {
  return join(FIXTURES, 'models', model, format);
}

export function maxAbsDiff(a: Tensor['data'], b: Tensor['data']): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(Number(a[i]) - Number(b[i])));
  return worst;
}

/** A scratch copy of a model dir; call the returned cleanup when done. */
export function copyModel(model: ModelName, format: FormatName): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'paddle-native-test-'));
  const dir = join(root, 'model');
  cpSync(modelDir(model, format), dir, { recursive: true });
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function manifestOf(files: Record<string, string>): string {
  return Object.keys(files)
    .sort()
    .map((name) => `${files[name]}  ${name}\n`)
    .join('');
}

export type Algorithm = 'RSA-PKCS1v15-SHA256' | 'ECDSA-P256-SHA256' | 'Ed25519';
const keyFor: Record<Algorithm, 'rsa2048' | 'ecdsa-p256' | 'ed25519'> = {
  'RSA-PKCS1v15-SHA256': 'rsa2048',
  'ECDSA-P256-SHA256': 'ecdsa-p256',
  Ed25519: 'ed25519',
};

export function signManifest(manifest: string, algorithm: Algorithm, privateKey?: KeyObject): string {
  const keyObj = privateKey ?? createPrivateKey(key(keyFor[algorithm], 'key'));
  const sig = sign(algorithm === 'Ed25519' ? null : 'sha256', Buffer.from(manifest), keyObj);
  return sig.toString('base64');
}

/** Writes signature.json for `files` (name -> digest); `signedManifest` overrides what is signed. */
export function writeSignature(
  dir: string,
  files: Record<string, string>,
  algorithm: Algorithm = 'RSA-PKCS1v15-SHA256',
  signedManifest?: string,
): void {
  const signature = signManifest(signedManifest ?? manifestOf(files), algorithm);
  writeFileSync(join(dir, 'signature.json'), JSON.stringify({ version: 1, algorithm, keyId: 'test-only', files, signature }, null, 2));
}

export function digestsOf(dir: string, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, sha256Hex(readFileSync(join(dir, n)))]));
}
