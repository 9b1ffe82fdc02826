// Token verification (jose): HS256 with a shared secret file, or RS256/ES256 against a JWKS
// file; issuer, audience, expiry with a small clock skew. Permission domains come from the
// token's `scope` (space-separated string, or an array). Key files are re-read by reload().

import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { SidecarConfig } from './config.js';
import { SidecarError } from './errors.js';

export interface Principal {
  subject: string;
  domains: Set<string>;
}

type AuthConfig = SidecarConfig['auth'];

interface KeyMaterial {
  hmac?: Uint8Array;
  jwks?: JWTVerifyGetKey;
}

/** Reads the key files named by the config. Throws a clear error naming the file. */
export async function loadKeyMaterial(cfg: AuthConfig): Promise<KeyMaterial> {
  const out: KeyMaterial = {};
  if (cfg.hmacSecretFile) {
    let bytes: Buffer;
    try {
      bytes = await readFile(cfg.hmacSecretFile);
    } catch (err) {
      throw new Error(`cannot read HMAC secret file ${cfg.hmacSecretFile}: ${(err as Error).message}`, { cause: err });
    }
    // A trailing newline (echo > file) is not part of the secret.
    let end = bytes.length;
    while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
    if (end < 32) throw new Error(`HMAC secret in ${cfg.hmacSecretFile} is shorter than 32 bytes`);
    out.hmac = new Uint8Array(bytes.subarray(0, end));
  }
  if (cfg.jwksFile) {
    let jwks: unknown;
    try {
      jwks = JSON.parse(await readFile(cfg.jwksFile, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read JWKS file ${cfg.jwksFile}: ${(err as Error).message}`, { cause: err });
    }
    if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
      throw new Error(`JWKS file ${cfg.jwksFile} has no "keys" array`);
    }
    out.jwks = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
  }
  return out;
}

export function scopeDomains(payload: JWTPayload): Set<string> {
  const scope = payload.scope ?? payload.scp;
  if (typeof scope === 'string') return new Set(scope.split(/\s+/).filter((s) => s.length > 0));
  if (Array.isArray(scope)) return new Set(scope.filter((s): s is string => typeof s === 'string'));
  return new Set();
}

/**
 * Verified tokens are cached by the exact Authorization header text (signature included, so a
 * forged token never hits) until their expiry; the cache is bounded and cleared whenever the
 * keys or the auth config change. Signature checks cost far more than the rest of the request
 * path, and a hit (`cached`) is answered synchronously.
 */
const CACHE_MAX = 10000;

interface CacheEntry {
  principal: Principal;
  expMs: number;
}

export class TokenVerifier {
  private keys: KeyMaterial = {};
  private cfg: AuthConfig;
  private readonly cache = new Map<string, CacheEntry>();
  /** Each connection's last verified header; valid while `generation` (bumped by reload) matches. */
  private readonly lastByConnection = new WeakMap<object, { header: string; entry: CacheEntry; generation: number }>();
  private generation = 0;
  constructor(
    cfg: AuthConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.cfg = cfg;
  }

  /** Applies a new auth config and re-reads its key files; on failure the old keys stay. */
  async reload(cfg: AuthConfig): Promise<void> {
    const keys = cfg.enabled ? await loadKeyMaterial(cfg) : {};
    this.cfg = cfg;
    this.keys = keys;
    this.cache.clear();
    this.generation++;
  }

  /**
   * The principal of a header verified before and not yet expired, else undefined (then call
   * verify). `connection` (the request's socket) remembers its last header: a keep-alive client
   * sends the same token on every request, and comparing it costs less than hashing it.
   */
  cached(authorization: string | undefined, connection?: object): Principal | undefined {
    if (authorization === undefined) return undefined;
    const last = connection ? this.lastByConnection.get(connection) : undefined;
    let hit = last !== undefined && last.header === authorization && last.generation === this.generation ? last.entry : this.cache.get(authorization);
    if (hit !== undefined && !(this.now() < hit.expMs)) {
      this.cache.delete(authorization);
      hit = undefined;
    }
    if (hit === undefined) return undefined;
    if (connection && last?.entry !== hit) this.lastByConnection.set(connection, { header: authorization, entry: hit, generation: this.generation });
    return hit.principal;
  }

  async verify(authorization: string | undefined): Promise<Principal> {
    const hit = this.cached(authorization);
    if (hit) return hit;
    if (!authorization) throw new SidecarError('unauthenticated', 'missing bearer token');
    const m = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(authorization);
    if (!m?.[1]) throw new SidecarError('unauthenticated', 'malformed Authorization header');
    const token = m[1];
    const options = {
      clockTolerance: this.cfg.clockSkewSeconds,
      requiredClaims: ['exp', 'sub'],
      ...(this.cfg.issuer ? { issuer: this.cfg.issuer } : {}),
      ...(this.cfg.audience ? { audience: this.cfg.audience } : {}),
    };
    let payload: JWTPayload;
    try {
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: unknown };
      if (header.alg === 'HS256') {
        if (!this.keys.hmac) throw new SidecarError('unauthenticated', 'HS256 tokens are not accepted here');
        ({ payload } = await jwtVerify(token, this.keys.hmac, { ...options, algorithms: ['HS256'] }));
      } else {
        if (!this.keys.jwks) throw new SidecarError('unauthenticated', `tokens signed with ${String(header.alg)} are not accepted here`);
        ({ payload } = await jwtVerify(token, this.keys.jwks, { ...options, algorithms: ['RS256', 'ES256'] }));
      }
    } catch (err) {
      if (err instanceof SidecarError) throw err;
      throw new SidecarError('unauthenticated', `invalid token: ${describeJoseError(err)}`, { cause: err });
    }
    const principal = { subject: payload.sub ?? '', domains: scopeDomains(payload) };
    if (typeof payload.exp === 'number') {
      if (this.cache.size >= CACHE_MAX) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      // Cached until the token's own expiry (no skew granted to cache hits).
      this.cache.set(authorization, { principal, expMs: payload.exp * 1000 });
    }
    return principal;
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim} ${err.reason}`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof joseErrors.JOSEError) return err.code;
  if (err instanceof SyntaxError) return 'malformed token';
  return 'verification failed';
}
