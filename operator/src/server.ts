// /healthz (the process and its event loop answer), /readyz (standing by, or leading with
// synced caches), /metrics (Prometheus).

import { createServer, type Server } from 'node:http';

/** What /metrics serves: a prom-client Registry, or OperatorMetrics (its registry plus the condition family). */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface ProbeState {
  /** Ready to serve its role: a standby is ready; a leader once its caches are synced. */
  ready(): { ok: boolean; detail: string };
}

export function createOpsServer(registry: MetricsSource, probes: ProbeState): Server {
  return createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (url === '/healthz') return send(200, 'ok\n');
    if (url === '/readyz') {
      const r = probes.ready();
      return send(r.ok ? 200 : 503, `${r.detail}\n`);
    }
    if (url === '/metrics') {
      registry
        .metrics()
        .then((text) => send(200, text, registry.contentType))
        .catch((err: unknown) => send(500, `metrics failed: ${String(err)}\n`));
      return;
    }
    send(404, 'not found\n');
  });
}
