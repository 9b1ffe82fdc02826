// The OTLP/HTTP exporter is wired when an endpoint is configured: spans reach a collector
// endpoint (a local HTTP server standing in for the collector's /v1/traces receiver).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTracerProvider } from '../src/tracing.js';

describe('OTLP export', function () {
  this.timeout(20000);
  it('POSTs finished spans to <endpoint>/v1/traces', async () => {
    const received: { path: string; contentType: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', () => r()));
    const port = (collector.address() as AddressInfo).port;
    const provider = createTracerProvider({ serviceName: 'paddle-sidecar-otlp-test', otlpEndpoint: `http://127.0.0.1:${port}/` });
    try {
      const span = provider.getTracer('t').startSpan('POST /v2/models/{model}', { attributes: { 'model.name': 'mlp' } });
      const traceId = span.spanContext().traceId;
      span.end();
      await provider.forceFlush();
      assert.equal(received.length, 1);
      assert.equal(received[0]?.path, '/v1/traces');
      assert.match(received[0]?.contentType ?? '', /json/);
      const body = received[0]?.body ?? '';
      assert.ok(body.includes(traceId), 'the exported payload carries the span trace id');
      assert.ok(body.includes('paddle-sidecar-otlp-test'), 'service.name resource attribute');
      assert.ok(body.includes('model.name'));
    } finally {
      await provider.shutdown();
      collector.close();
    }
  });
});
