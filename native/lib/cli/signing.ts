// keygen, sign, verify: the signing side of a model's life.
//   keygen --out PREFIX [--type ed25519|ecdsa-p256|rsa3072]   PREFIX.key.pem (0600) + PREFIX.pub.pem
//   sign --key PRIV.pem [--algorithm A] [--key-id ID] DIR     writes DIR/signature.json
//   verify --key PUB.pem DIR                                  the native loader's full check

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Predictor } from '../index.js';
import { UsageError, flag, oneDir, required, type Args, type CliIo } from './args.js';
import { ALGORITHMS, SIGNATURE_FILE, algorithmFor, modelFiles, sha256Hex, signManifest, type Algorithm } from './manifest.js';

export const KEY_TYPES = ['ed25519', 'ecdsa-p256', 'rsa3072'] as const;
type KeyType = (typeof KEY_TYPES)[number];

function generate(type: KeyType): KeyObject {
  if (type === 'ed25519') return generateKeyPairSync('ed25519').privateKey;
  if (type === 'ecdsa-p256') return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  return generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
}

export function keygen(args: Args, io: CliIo): number {
  const prefix = required(args, 'out', 'PREFIX (writes PREFIX.key.pem and PREFIX.pub.pem)');
  const type = (flag(args, 'type') ?? 'ed25519') as KeyType;
  if (!KEY_TYPES.includes(type)) throw new UsageError(`--type must be one of ${KEY_TYPES.join(', ')}`);
  const privPath = `${prefix}.key.pem`;
  const pubPath = `${prefix}.pub.pem`;
  for (const p of [privPath, pubPath]) if (existsSync(p)) throw new UsageError(`${p} exists; refusing to overwrite a key`);
  const key = generate(type);
  writeFileSync(privPath, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(pubPath, createPublicKey(key).export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  io.out(`wrote ${privPath} (private, mode 0600; keep it out of the cluster) and ${pubPath} (${algorithmFor(key)}; put it in the verification Secret)`);
  return 0;
}

function readPrivateKey(path: string): KeyObject {
  try {
    return createPrivateKey(readFileSync(path));
  } catch (err) {
    throw new UsageError(`cannot read private key ${path}: ${(err as Error).message}`);
  }
}

export function signModel(args: Args, io: CliIo): number {
  const dir = oneDir(args);
  const key = readPrivateKey(required(args, 'key', 'PRIVATE_KEY.pem'));
  const algorithm = (flag(args, 'algorithm') ?? algorithmFor(key)) as Algorithm;
  if (!ALGORITHMS.includes(algorithm)) throw new UsageError(`unknown algorithm ${algorithm}`);
  if (algorithm !== algorithmFor(key)) throw new UsageError(`key type does not match ${algorithm}`);
  const files: Record<string, string> = {};
  for (const name of modelFiles(dir)) files[name] = sha256Hex(readFileSync(join(dir, name)));
  const doc = signManifest(files, key, algorithm, flag(args, 'key-id'));
  writeFileSync(join(dir, SIGNATURE_FILE), `${JSON.stringify(doc, null, 2)}\n`);
  io.out(`signed ${Object.keys(files).join(', ')} in ${dir} with ${algorithm} (keyId ${doc.keyId})`);
  return 0;
}

/** Loads the model through the native loader (digests, signature, parse): what the sidecar does. */
export async function loadFor(args: Args): Promise<Predictor> {
  const dir = oneDir(args);
  const keyPath = flag(args, 'key');
  if (!keyPath && !args.flags.has('unsigned')) throw new UsageError(`${args.command} needs --key PUBLIC_KEY.pem (or --unsigned)`);
  return keyPath
    ? Predictor.load({ modelDir: dir, publicKeyPem: readFileSync(keyPath, 'utf8') })
    : Predictor.load({ modelDir: dir, requireSignature: false });
}

export async function verifyModel(args: Args, io: CliIo): Promise<number> {
  if (!flag(args, 'key')) throw new UsageError('verify needs --key PUBLIC_KEY.pem');
  const p = await loadFor(args);
  const info = p.info();
  p.dispose();
  io.out(`verified ${oneDir(args)}: ${info.algorithm} keyId ${info.keyId ?? '-'} manifest sha256 ${info.digest}`);
  return 0;
}
