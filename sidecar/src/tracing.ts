// OpenTelemetry: a tracer provider (sdk-trace-base), W3C trace context in and out. The OTLP
// exporter is wired only when an endpoint is configured; tests pass their own span processor.

import { type Context, ROOT_CONTEXT, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { IncomingHttpHeaders } from 'node:http';

export function createTracerProvider(o: { serviceName: string; otlpEndpoint?: string; spanProcessors?: SpanProcessor[] }): BasicTracerProvider {
  const processors = [...(o.spanProcessors ?? [])];
  if (o.otlpEndpoint) {
    const url = `${o.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  return new BasicTracerProvider({ resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: o.serviceName }), spanProcessors: processors });
}

const propagator = new W3CTraceContextPropagator();

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => h[key.toLowerCase()],
};

export function extractTraceContext(headers: IncomingHttpHeaders): Context {
  return propagator.extract(ROOT_CONTEXT, headers, headerGetter);
}

/** Sets the headers (traceparent, tracestate) that carry `ctx` onward on a response. */
export function setTraceHeaders(ctx: Context, res: { setHeader(name: string, value: string): unknown }): void {
  propagator.inject(ctx, res, headerSetter);
}

const headerSetter = { set: (r: { setHeader(name: string, value: string): unknown }, k: string, v: string): void => void r.setHeader(k, v) };

/** The headers (traceparent, tracestate) that carry `ctx` onward. */
export function injectTraceContext(ctx: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, { set: (c, k, v) => void (c[k] = v) });
  return carrier;
}

export type { Tracer };
