// Stage 3, authn: who is calling. With auth on, the bearer token (JWT: HS256 from the HMAC
// secret file, RS256/ES256 from the JWKS file; issuer, audience, expiry checked; 401 otherwise),
// answered synchronously for a token verified before (auth.ts's cache); with auth off, the
// client address. The key files are re-read when they change (Secret rotation), not only when
// the config changes; a failed read keeps the previous keys.

import type { SidecarConfig } from '../config.js';
import { TokenVerifier, type Principal } from '../auth.js';
import { describeCause } from '../errors.js';
import { watchFiles, type FileWatchHandle } from '../file-watch.js';
import type { Logger } from '../logging.js';

type AuthConfig = SidecarConfig['auth'];

export interface AuthnOptions {
  log: Logger;
  /** Re-read the key files when they change (default true once started). */
  watchKeyFiles?: boolean;
  /** Poll interval of the key-file watcher (ms), a fallback for file systems without inotify. */
  keyPollMs?: number;
}

export class Authn {
  private readonly verifier: TokenVerifier;
  private auth: AuthConfig;
  private watcher: FileWatchHandle | undefined;
  private watching = false;

  private constructor(auth: AuthConfig, private readonly o: AuthnOptions) {
    this.auth = auth;
    this.verifier = new TokenVerifier(auth);
  }

  /** Reads the key files of `auth` (throws when they cannot be read). */
  static async create(auth: AuthConfig, o: AuthnOptions): Promise<Authn> {
    const a = new Authn(auth, o);
    await a.verifier.reload(auth);
    return a;
  }

  /** A new auth config: key files re-read first (throws, keeping the old keys and config, when they fail). */
  async reload(auth: AuthConfig): Promise<void> {
    await this.verifier.reload(auth);
    this.auth = auth;
    if (this.watching) this.watch();
  }

  /**
   * The caller: the token's principal (a promise only when its signature must be checked), or
   * with auth off the client address holding `domain`. `connection` lives as long as the
   * caller's connection (the token cache remembers its last header).
   */
  principal(authorization: string | undefined, connection: object | undefined, remoteAddress: string | undefined, domain: string): Principal | Promise<Principal> {
    if (!this.auth.enabled) return { subject: `ip:${remoteAddress ?? 'unknown'}`, domains: new Set([domain]) };
    return this.verifier.cached(authorization, connection) ?? this.verifier.verify(authorization);
  }

  get enabled(): boolean {
    return this.auth.enabled;
  }

  /** Starts (or restarts, for the current config) watching the key files. */
  watch(): void {
    this.watching = true;
    this.watcher?.close();
    this.watcher = undefined;
    const files = [this.auth.jwksFile, this.auth.hmacSecretFile].filter((f): f is string => typeof f === 'string');
    if (!this.auth.enabled || files.length === 0 || this.o.watchKeyFiles === false) return;
    const log = this.o.log;
    this.watcher = watchFiles(
      files,
      () => {
        this.verifier.reload(this.auth).then(
          () => log.info({ files }, 'token keys reloaded'),
          (err: unknown) => log.error({ files, '@error.cause': describeCause(err) }, 'token key reload failed; keeping the previous keys'),
        );
      },
      { debounceMs: 100, pollMs: this.o.keyPollMs ?? 2000 },
    );
  }

  stop(): void {
    this.watching = false;
    this.watcher?.close();
    this.watcher = undefined;
  }
}
