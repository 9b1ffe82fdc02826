// A local HTTPS file server for the tests: serves the files of one directory under /<prefix>/,
// with a certificate for 127.0.0.1 signed by a throwaway CA (openssl), optionally requiring one
// request header (a bearer token, as a private model store would). Requests are recorded so a
// test can see what was asked for, and `mutate` lets a test serve changed or truncated bytes.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface HttpsFileServer {
  /** https://127.0.0.1:PORT/<prefix> */
  url: string;
  /** PEM of the CA that signed the server certificate. */
  ca: Buffer;
  requests: Array<{ path: string; headers: Record<string, string | string[] | undefined> }>;
  stop(): Promise<void>;
}

export interface HttpsFileServerOptions {
  dir: string;
  prefix?: string;
  /** A header every request must carry, e.g. ['authorization', 'Bearer ...']; 401 otherwise. */
  requireHeader?: [string, string];
  /** Rewrites a file's bytes as served (name, bytes) -> bytes, or 'truncate' to cut the body short. */
  mutate?: (name: string, bytes: Buffer) => Buffer | 'truncate';
}

function makeCertificate(): { key: Buffer; cert: Buffer; ca: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'https-server-'));
  try {
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-only model store CA']);
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1']);
    const ext = join(dir, 'ext.cnf');
    execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${ext}`]);
    run(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '1', '-extfile', ext]);
    return { key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.crt')), ca: readFileSync(join(dir, 'ca.crt')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startHttpsFileServer(opts: HttpsFileServerOptions): Promise<HttpsFileServer> {
  const { key, cert, ca } = makeCertificate();
  const prefix = `/${(opts.prefix ?? 'models').replace(/^\/+|\/+$/g, '')}/`;
  const requests: HttpsFileServer['requests'] = [];
  const server: Server = createServer({ key, cert }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    requests.push({ path, headers: req.headers });
    if (opts.requireHeader && req.headers[opts.requireHeader[0]] !== opts.requireHeader[1]) {
      res.writeHead(401).end('unauthorized');
      return;
    }
    const name = path.startsWith(prefix) ? path.slice(prefix.length) : '';
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
      res.writeHead(404).end('not found');
      return;
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(opts.dir, name));
    } catch {
      res.writeHead(404).end('not found');
      return;
    }
    const served = opts.mutate ? opts.mutate(name, bytes) : bytes;
    if (served === 'truncate') {
      // Announce the whole length, send half, then drop the connection.
      res.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/octet-stream' });
      res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
      return;
    }
    res.writeHead(200, { 'content-length': served.length, 'content-type': 'application/octet-stream' }).end(served);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}${prefix.replace(/\/$/, '')}`,
    ca,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
