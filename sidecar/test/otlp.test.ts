// The OTLP/HTTP exporter is wired when an endpoint is configured: spans reach a collector
// endpoint (a local HTTP server standing in for the collector's /v1/traces receiver).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTracerProvider, ReloadableTracing } from '../src/tracing.js';

/** A stand-in collector: records the request paths and bodies it receives. */
async function startCollector(): Promise<{ url: string; bodies: string[]; close(): void }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces') bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, close: () => server.close() };
}

describe('OTLP export', function () {
  this.timeout(120000);
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

  it('an endpoint written with the traces path (the old example) is not doubled to /v1/traces/v1/traces', async () => {
    const c = await startCollector();
    const provider = createTracerProvider({ serviceName: 'paddle-sidecar-otlp-path', otlpEndpoint: `${c.url}/v1/traces` });
    try {
      const span = provider.getTracer('t').startSpan('POST /v2/models/{model}');
      span.end();
      await provider.forceFlush();
      assert.equal(c.bodies.length, 1, 'the span reached /v1/traces');
      assert.ok(c.bodies[0]?.includes(span.spanContext().traceId));
    } finally {
      await provider.shutdown();
      c.close();
    }
  });

  it('a reloaded endpoint takes effect without a restart; the old exporter is flushed and shut down', async () => {
    const a = await startCollector();
    const b = await startCollector();
    const tracing = new ReloadableTracing({ serviceName: 'paddle-sidecar-otlp-reload', drainMs: 10 });
    const spanOn = (name: string): string => {
      const span = tracing.tracer.startSpan(name);
      span.end();
      return span.spanContext().traceId;
    };
    try {
      spanOn('before any endpoint');
      assert.equal(tracing.apply(undefined), false, 'unchanged config: nothing to do');
      assert.equal(tracing.apply(a.url), true);
      const toA = spanOn('to collector A');
      // A span still open when the endpoint changes ends on (and is exported by) the old provider.
      const open = tracing.tracer.startSpan('open across the reload');
      assert.equal(tracing.apply(b.url), true);
      open.end();
      const toB = spanOn('to collector B');
      await tracing.forceFlush();
      // The retired provider exports on its shutdown, after the drain: poll (a busy CI machine).
      const deadline = Date.now() + 60_000; // a bound on a hang, not an expected duration
      while (!a.bodies.some((x) => x.includes(open.spanContext().traceId)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      assert.ok(a.bodies.some((x) => x.includes(toA)), 'A got its span');
      assert.ok(a.bodies.some((x) => x.includes(open.spanContext().traceId)), 'the open span ended on A');
      assert.ok(b.bodies.some((x) => x.includes(toB)), 'B got the span after the reload');
      assert.ok(!b.bodies.some((x) => x.includes(toA)), 'nothing of A went to B');
      assert.equal(tracing.apply(undefined), true, 'export off again');
      const nowhere = spanOn('not exported');
      await tracing.forceFlush();
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(![...a.bodies, ...b.bodies].some((x) => x.includes(nowhere)));
    } finally {
      await tracing.shutdown();
      a.close();
      b.close();
    }
  });
});

describe('tracing without an exporter', () => {
  // The SDK with an AlwaysOff sampler (createTracerProvider without processors) and the id-only
  // tracer that ReloadableTracing hands out without an OTLP endpoint (what main.ts serves with)
  // must behave alike.
  const tracers: [string, () => { tracer: import('@opentelemetry/api').Tracer; stop: () => Promise<unknown> }][] = [
    ['the SDK without processors', () => {
      const provider = createTracerProvider({ serviceName: 'no-exporter' });
      return { tracer: provider.getTracer('t'), stop: () => provider.shutdown() };
    }],
    ['ReloadableTracing without an endpoint', () => {
      const tracing = new ReloadableTracing({ serviceName: 'no-exporter' });
      return { tracer: tracing.tracer, stop: () => tracing.shutdown() };
    }],
  ];
  for (const [what, make] of tracers) {
    it(`records no spans, yet keeps trace and span ids and the incoming trace (${what})`, async () => {
      const { extractTraceContext, injectTraceContext, traceparentOf } = await import('../src/tracing.js');
      const { trace } = await import('@opentelemetry/api');
      const { tracer, stop } = make();
      const root = tracer.startSpan('root');
      assert.equal(root.isRecording(), false);
      assert.match(root.spanContext().traceId, /^[0-9a-f]{32}$/);
      assert.notEqual(root.spanContext().traceId, '0'.repeat(32));
      assert.match(root.spanContext().spanId, /^[0-9a-f]{16}$/);
      const ids = new Set(Array.from({ length: 2000 }, () => tracer.startSpan('x').spanContext().spanId));
      assert.equal(ids.size, 2000, 'span ids repeat');
      // A caller's traceparent (and tracestate): the server span continues that trace with a span
      // id of its own, and the outgoing traceparent names it.
      const parent = extractTraceContext({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=abc' });
      const server = tracer.startSpan('server', {}, parent);
      assert.equal(server.isRecording(), false);
      assert.equal(server.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
      assert.notEqual(server.spanContext().spanId, 'b7ad6b7169203331');
      assert.equal(server.spanContext().traceState?.serialize(), 'vendor=abc');
      const out = injectTraceContext(trace.setSpan(parent, server));
      assert.match(out.traceparent ?? '', new RegExp(`^00-0af7651916cd43dd8448eb211c80319c-${server.spanContext().spanId}-00$`));
      assert.equal(out.tracestate, 'vendor=abc');
      // The response header the app writes is the propagator's value.
      assert.equal(traceparentOf(server.spanContext()), out.traceparent);
      // A child of the server span stays in the trace, with a span id of its own.
      const { startChildSpan } = await import('../src/tracing.js');
      for (const child of [tracer.startSpan('child', {}, trace.setSpan(parent, server)), startChildSpan(tracer, 'child', {}, parent, server)]) {
        assert.equal(child.isRecording(), false);
        assert.equal(child.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
        assert.doesNotMatch(child.spanContext().spanId, new RegExp(`^(${server.spanContext().spanId}|0{16})$`));
        assert.equal(child.spanContext().traceState?.serialize(), 'vendor=abc');
      }
      // An invalid incoming traceparent starts a new trace.
      const fresh = tracer.startSpan('s', {}, extractTraceContext({ traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' }));
      assert.notEqual(fresh.spanContext().traceId, '0'.repeat(32));
      await stop();
    });
  }
});

describe('shutdown with a collector that never answers', function () {
  this.timeout(120000);
  it('gives up after the timeout instead of the exporter retries', async () => {
    const { createServer: createTcpServer } = await import('node:net');
    const held: import('node:net').Socket[] = [];
    const silent = createTcpServer((s) => void held.push(s)); // accepts, reads nothing, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as AddressInfo).port;
    const tracing = new ReloadableTracing({ serviceName: 'paddle-sidecar-silent', otlpEndpoint: `http://127.0.0.1:${port}` });
    try {
      tracing.tracer.startSpan('unsent').end();
      // Waiting for the exporter would end with its own timeout, the provider's shutdown then
      // resolves and shutdown() answers true: false is the proof it gave up at its own bound
      // (how many milliseconds that took on a loaded machine is not asserted).
      const flushed = await tracing.shutdown(500);
      assert.equal(flushed, false, 'nothing could be flushed: shutdown gave up instead of waiting for the exporter');
      assert.ok(held.length > 0, 'the exporter did try the collector');
    } finally {
      for (const s of held) s.destroy();
      silent.close();
    }
  });
  it('reports a completed flush as such', async () => {
    const collector = await startCollector();
    const tracing = new ReloadableTracing({ serviceName: 'paddle-sidecar-flush', otlpEndpoint: collector.url });
    try {
      tracing.tracer.startSpan('sent').end();
      assert.equal(await tracing.shutdown(5000), true);
      assert.ok(collector.bodies.some((b) => b.includes('sent')));
    } finally {
      collector.close();
    }
  });
});
