// token: an HS256 token the sidecar accepts, for trying a service out and for tests (production
// tokens come from your identity provider, signed with its keys: auth.jwksSecretRef).
//   token --hmac-key FILE --scope "model_inference ..." [--issuer ISS] [--audience AUD]
//         [--subject SUB] [--ttl SECONDS]
// The key file is the same bytes as the Secret's hmac.key (trailing newlines dropped, at least
// 32 bytes, as the sidecar requires); `scope` lists the permission domains of auth.policies.

import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { UsageError, flag, intFlag, required, type Args, type CliIo } from './args.js';

export function readHmacKey(path: string): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read --hmac-key ${path}: ${(err as Error).message}`);
  }
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  if (end < 32) throw new UsageError(`--hmac-key ${path} holds ${end} bytes; HS256 keys must be at least 32 (openssl rand -hex 32 > ${path})`);
  return new Uint8Array(bytes.subarray(0, end));
}

export async function tokenCommand(args: Args, io: CliIo): Promise<number> {
  const key = readHmacKey(required(args, 'hmac-key', 'FILE'));
  const scope = required(args, 'scope', '"DOMAIN ..." (the auth.policies domains the token grants)');
  const ttl = intFlag(args, 'ttl', 3600);
  let jwt = new SignJWT({ scope }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime(`${ttl}s`);
  const issuer = flag(args, 'issuer');
  const audience = flag(args, 'audience');
  if (issuer) jwt = jwt.setIssuer(issuer);
  if (audience) jwt = jwt.setAudience(audience);
  jwt = jwt.setSubject(flag(args, 'subject') ?? 'paddle-model-cli');
  io.out(await jwt.sign(key));
  return 0;
}
