// The metrics port's listener (plain HTTP): GET /metrics and nothing else, answered straight
// from the registry, never through the request chain, so no API route is reachable there.
// Everything else is 404 {"error":"no such endpoint"}, other methods 405. (The health port, the
// other side port, is health-port.ts: its own thread.)

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { HTTP_PATHS } from '../../crds/src/pod-contract.js';

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function refuse(res: ServerResponse, status: 404 | 405, message: string): void {
  const body = JSON.stringify({ error: message });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...(status === 405 ? { Allow: 'GET, HEAD' } : {}) });
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
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(body);
      },
    );
  });
}
