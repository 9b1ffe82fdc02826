// A recording proxy for e2e tests: HTTPS on loopback (a throw-away self-signed certificate made
// with openssl) in front of the real API server, so clients use the same TLS transport as with
// the API server itself. It forwards every request unchanged (the client's own bearer token authenticates it, so RBAC is
// enforced by the API server as usual) and records what was asked and answered, mapped to the
// RBAC attributes the API server authorizes (API group, resource/subresource, verb, namespace,
// name), the way its request-info resolver does.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RecordedCall {
  method: string;
  path: string;
  status: number;
  /** RBAC attributes; undefined for non-resource paths such as /version. */
  attrs?: { group: string; resource: string; verb: string; namespace?: string; name?: string };
}

/** The RBAC attributes of a request, as the API server's request-info resolver derives them. */
export function requestAttributes(method: string, url: string): RecordedCall['attrs'] {
  const parsed = new URL(url, 'http://x');
  const parts = parsed.pathname.split('/').filter(Boolean);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1] as string;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length === 0) return undefined;
  const [plural, name, sub] = rest as [string, string | undefined, string | undefined];
  const resource = sub ? `${plural}/${sub}` : plural;
  const watch = ['true', '1'].includes(parsed.searchParams.get('watch') ?? '');
  let verb: string;
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb = name ? 'get' : watch ? 'watch' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      verb = method.toLowerCase();
  }
  return { group, resource, verb, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

export interface RecordingProxy {
  url: string;
  /** PEM of the proxy's self-signed certificate: the CA a client must trust. */
  caPem: string;
  calls: RecordedCall[];
  close(): Promise<void>;
}

/** A self-signed P-256 certificate for 127.0.0.1, valid for a day. */
function selfSignedLoopbackCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'recording-proxy-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=recording-proxy', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'pipe' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts the proxy in front of `server` (https URL of the API server, trusted through `ca`). */
export async function startRecordingProxy(server: string, ca: Buffer): Promise<RecordingProxy> {
  const target = new URL(server);
  const tls = selfSignedLoopbackCert();
  const calls: RecordedCall[] = [];
  const open = new Set<() => void>();
  const proxy: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const headers: IncomingHttpHeaders = { ...req.headers, host: target.host };
    const upstream = httpsRequest(
      { protocol: 'https:', hostname: target.hostname, port: target.port || 443, method, path, headers, ca },
      (upRes) => {
        const status = upRes.statusCode ?? 0;
        const attrs = requestAttributes(method, path);
        calls.push({ method, path, status, attrs });
        // A PATCH that creates the object (server-side apply of a missing object answers 201)
        // is authorized twice by the API server: as patch, and as create.
        if (method === 'PATCH' && status === 201 && attrs) calls.push({ method, path, status, attrs: { ...attrs, verb: 'create' } });
        res.writeHead(status, upRes.headers);
        // Send the headers now: a watch answers with headers and then nothing until an event,
        // and clients wait for the headers before they go on.
        res.flushHeaders();
        upRes.pipe(res);
      },
    );
    const abort = () => upstream.destroy();
    open.add(abort);
    res.on('close', () => {
      open.delete(abort);
      upstream.destroy();
    });
    upstream.on('error', (err) => {
      calls.push({ method, path, status: 502, attrs: requestAttributes(method, path) });
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`proxy: ${err.message}`);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caPem: tls.cert,
    calls,
    close: async () => {
      for (const abort of open) abort();
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
