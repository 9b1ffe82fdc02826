// The health port's server, on its own thread (health-port.ts starts it): GET/HEAD
// /v2/health/live and /v2/health/ready, nothing else. It answers from what the main thread
// publishes (a heartbeat in shared memory, the readiness answer by message), so a probe is
// answered at once however busy the main thread's event loop is, and still fails when that loop
// has stopped turning (liveness: heartbeat older than staleAfterMs -> 503).

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { HTTP_PATHS } from '../../crds/src/pod-contract.js';
import { guardHttpServer } from './connections.js';

export interface HealthWorkerData {
  heartbeat: SharedArrayBuffer;
  staleAfterMs: number;
  host: string;
  port: number;
  /** Idle timeout of a connection (ms; connections.ts). No cap here: see connections.ts. */
  idleTimeoutMs: number;
}

export type HealthMessage = { type: 'ready'; status: number; body: string } | { type: 'close' };

const data = workerData as HealthWorkerData;
const beat = new Float64Array(data.heartbeat);
let ready = { status: 503, body: JSON.stringify({ error: 'not ready: starting' }) };
const JSON_TYPE = 'application/json';

function send(res: ServerResponse, status: number, body: string, head: boolean, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extra });
  res.end(head ? undefined : body);
}

const server = createServer((req, res) => {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  req.resume();
  if (path !== HTTP_PATHS.live && path !== HTTP_PATHS.ready) return send(res, 404, '{"error":"no such endpoint"}', false);
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, '{"error":"method not allowed"}', false, { Allow: 'GET, HEAD' });
  const head = req.method === 'HEAD';
  const age = Date.now() - (beat[0] ?? 0);
  if (age > data.staleAfterMs) {
    return send(res, 503, JSON.stringify({ error: `not live: the event loop has not turned for ${Math.round(age)} ms (limit ${data.staleAfterMs} ms)` }), head);
  }
  if (path === HTTP_PATHS.live) return send(res, 200, '{"live":true}', head);
  send(res, ready.status, ready.body, head);
});
guardHttpServer(server, { maxConnections: undefined, idleTimeoutMs: data.idleTimeoutMs });

parentPort?.on('message', (m: HealthMessage) => {
  if (m.type === 'ready') ready = { status: m.status, body: m.body };
  else server.close(() => process.exit(0));
});
server.on('error', (err) => parentPort?.postMessage({ type: 'error', message: err.message }));
server.listen(data.port, data.host, () => parentPort?.postMessage({ type: 'listening', port: (server.address() as AddressInfo).port }));
