// The listening side: HTTPS with optional mutual TLS (client certificates required and verified
// against the client CA), or plain HTTP when TLS is off. Certificate files are watched and
// re-read on change (cert-manager rotation); `setSecureContext` swaps them for new handshakes
// without dropping established connections.

import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { type ConnectionClosed, type ConnectionLimits, guardHttpServer, headerTimeoutOf } from './connections.js';
import { watchFiles, type FileWatchHandle } from './file-watch.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CA that issued client certificates; required when `mutual`. */
  caFile?: string;
  mutual: boolean;
}

export interface ServerOptions {
  handler: RequestListener;
  tls?: TlsFiles;
  onTlsReload?: (result: { ok: true } | { ok: false; error: string }) => void;
  /** Milliseconds an idle keep-alive connection stays open (when no `limits` are given). */
  keepAliveTimeoutMs?: number;
  /** The connection cap and idle timeout (connections.ts); the idle timeout is the keep-alive timeout too. */
  limits?: ConnectionLimits;
  /** Counts the connections closed at the cap or for idleness. */
  onConnectionClosed?: ConnectionClosed;
}

export interface RunningServer {
  server: HttpServer | HttpsServer;
  /** Re-reads the certificate files now (also called by the watcher). */
  reloadTls(): boolean;
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

function readSecureContext(t: TlsFiles): SecureContextOptions {
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read TLS ${what} ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  if (t.mutual && !t.caFile) throw new Error('mutual TLS needs a client CA file');
  return { cert: read(t.certFile, 'certificate'), key: read(t.keyFile, 'key'), ...(t.caFile ? { ca: read(t.caFile, 'CA') } : {}) };
}

export function createSidecarServer(o: ServerOptions): RunningServer {
  let server: HttpServer | HttpsServer;
  let watcher: FileWatchHandle | undefined;
  let reloadTls = (): boolean => false;
  if (o.tls) {
    const tls = o.tls;
    const https = createHttpsServer(
      {
        ...readSecureContext(tls),
        minVersion: 'TLSv1.2',
        requestCert: tls.mutual,
        rejectUnauthorized: tls.mutual,
        // A client that connects and never completes its handshake is not yet a connection the
        // idle sweep watches (connections.ts watches secure ones): node's own limit (120 s) would
        // hold it that long; with limits, it gets the header deadline.
        ...(o.limits ? { handshakeTimeout: headerTimeoutOf(o.limits) } : {}),
      },
      o.handler,
    );
    reloadTls = (): boolean => {
      try {
        https.setSecureContext({ ...readSecureContext(tls) });
        o.onTlsReload?.({ ok: true });
        return true;
      } catch (err) {
        // A half-written rotation: keep serving with the previous certificate.
        o.onTlsReload?.({ ok: false, error: (err as Error).message });
        return false;
      }
    };
    watcher = watchFiles([tls.certFile, tls.keyFile, ...(tls.caFile ? [tls.caFile] : [])], () => reloadTls(), { debounceMs: 200 });
    server = https;
  } else {
    server = createHttpServer(o.handler);
  }
  // A request with `Expect: 100-continue` goes to the same handler, and node no longer answers 100
  // by itself: the handler sends it when it reads the body (rest/front-end.ts), i.e. after the
  // token check, so a caller it refuses is answered before it sends a byte of its body.
  server.on('checkContinue', o.handler);
  if (o.limits) guardHttpServer(server, o.limits, o.onConnectionClosed);
  else server.keepAliveTimeout = o.keepAliveTimeoutMs ?? 65000;
  return {
    server,
    reloadTls: () => reloadTls(),
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        watcher?.close();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
