// The two side ports, one purpose each (README "Security model"):
//   metrics port (plain HTTP): GET /metrics and nothing else, answered straight from the
//     registry, never through the request chain, so no API route is reachable there;
//   health port (plain HTTP): GET /v2/health/live and GET /v2/health/ready and nothing else,
//     handed to the app's own handler (the same answers, access lines and metrics as on the
//     serving port). The kubelet probes here because with mutual TLS it cannot present a client
//     certificate to the serving port, and plaintext must not open inference.
// Everything else on these ports is 404 {"error":"no such endpoint"}, other methods 405.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { HTTP_PATHS } from '../../crds/src/pod-contract.js';

/** The paths the health port serves (GET and HEAD). */
export const PROBE_PATHS: readonly string[] = [HTTP_PATHS.live, HTTP_PATHS.ready];

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function refuse(res: ServerResponse, status: 404 | 405, message: string): void {
  const body = JSON.stringify({ error: message });
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...(status === 405 ? { Allow: 'GET, HEAD' } : {}) });
  res.end(body);
}

/** Answers only `allowed` paths, GET or HEAD, through `serve`; drains and refuses the rest. */
function only(allowed: readonly string[], serve: RequestListener): RequestListener {
  return (req, res) => {
    if (!allowed.includes(pathOf(req))) {
      req.resume();
      refuse(res, 404, 'no such endpoint');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      req.resume();
      refuse(res, 405, 'method not allowed');
      return;
    }
    serve(req, res);
  };
}

/** The metrics port's listener: the registry's exposition at /metrics, nothing else. */
export function metricsListener(registry: Registry): RequestListener {
  return only([HTTP_PATHS.metrics], (req, res) => {
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        const body = JSON.stringify({ error: `metrics collection failed: ${err instanceof Error ? err.message : String(err)}` });
        res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8' });
        res.end(body);
      },
    );
  });
}

/** The health port's listener: the two probe paths of the app's handler, nothing else. */
export function probeListener(appHandler: RequestListener): RequestListener {
  return only(PROBE_PATHS, appHandler);
}
