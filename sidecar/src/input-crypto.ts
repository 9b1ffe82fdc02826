// /v1/encrypt_input and its inverse for /v1/predict: AES-256-GCM with a key from a mounted file.
// The model name is bound as additional authenticated data, so a ciphertext made for one model
// is refused by another. Fresh 96-bit IV per message.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SidecarError } from './errors.js';

export interface EncryptedInput {
  alg: 'A256GCM';
  iv: string;
  ciphertext: string;
  tag: string;
}

/** Reads a 32-byte key: raw bytes, 64 hex chars, or base64 of 32 bytes (whitespace trimmed). */
export function readEncryptionKey(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read encryption key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (raw.length === 32) return raw;
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const b64 = Buffer.from(text, 'base64');
  if (b64.length === 32 && /^[A-Za-z0-9+/=_-]+$/.test(text)) return b64;
  throw new Error(`encryption key file ${path} must hold 32 bytes (raw, hex or base64)`);
}

function aad(modelName: string): Buffer {
  return Buffer.from(`paddle-sidecar/encrypt_input/${modelName}`, 'utf8');
}

export function encryptInput(key: Buffer, modelName: string, plaintext: Buffer): EncryptedInput {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(modelName));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { alg: 'A256GCM', iv: iv.toString('base64url'), ciphertext: ciphertext.toString('base64url'), tag: cipher.getAuthTag().toString('base64url') };
}

export function decryptInput(key: Buffer, modelName: string, e: unknown): Buffer {
  if (typeof e !== 'object' || e === null) throw new SidecarError('bad_request', 'encrypted_input must be an object');
  const { alg, iv, ciphertext, tag } = e as Record<string, unknown>;
  if (alg !== 'A256GCM') throw new SidecarError('bad_request', 'encrypted_input.alg must be A256GCM');
  if (typeof iv !== 'string' || typeof ciphertext !== 'string' || typeof tag !== 'string') {
    throw new SidecarError('bad_request', 'encrypted_input needs iv, ciphertext and tag strings');
  }
  const ivBuf = Buffer.from(iv, 'base64url');
  const tagBuf = Buffer.from(tag, 'base64url');
  if (ivBuf.length !== 12 || tagBuf.length !== 16) throw new SidecarError('bad_request', 'encrypted_input has a bad iv or tag length');
  try {
    const d = createDecipheriv('aes-256-gcm', key, ivBuf);
    d.setAAD(aad(modelName));
    d.setAuthTag(tagBuf);
    return Buffer.concat([d.update(Buffer.from(ciphertext, 'base64url')), d.final()]);
  } catch (err) {
    throw new SidecarError('decryption_failed', 'encrypted_input could not be decrypted', { cause: err });
  }
}
