// OpenTelemetry: a tracer provider (sdk-trace-base), W3C trace context in and out. The OTLP
// exporter is wired only when an endpoint is configured; tests pass their own span processor.
// `ReloadableTracing` lets a hot-reloaded `otlp` config take effect without a restart: a new
// provider is built, the tracer handed to the app switches to it, the old one is flushed and
// shut down.

import { type Context, ROOT_CONTEXT, type Span, type SpanOptions, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { IncomingHttpHeaders } from 'node:http';
import { within } from './clock.js';

export function createTracerProvider(o: { serviceName: string; otlpEndpoint?: string | undefined; spanProcessors?: SpanProcessor[] | undefined }): BasicTracerProvider {
  const processors = [...(o.spanProcessors ?? [])];
  if (o.otlpEndpoint) {
    const url = `${o.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  // Nothing receives spans without a processor: record none (spans stay non-recording, yet
  // carry trace and span ids, so logs, audit records and the outgoing traceparent keep them).
  const sampler = processors.length === 0 ? { sampler: new AlwaysOffSampler() } : {};
  return new BasicTracerProvider({ resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: o.serviceName }), spanProcessors: processors, ...sampler });
}

/** A Tracer that forwards to whichever tracer is current (swapped on an otlp reload). */
export class SwitchableTracer implements Tracer {
  constructor(private current: Tracer) {}
  use(t: Tracer): void {
    this.current = t;
  }
  startSpan(name: string, options?: SpanOptions, context?: Context): Span {
    return this.current.startSpan(name, options, context);
  }
  startActiveSpan: Tracer['startActiveSpan'] = ((...args: unknown[]): unknown =>
    (this.current.startActiveSpan as (...a: unknown[]) => unknown).apply(this.current, args)) as Tracer['startActiveSpan'];
}

export interface TracingOptions {
  serviceName: string;
  otlpEndpoint?: string;
  /** How long spans still open on a replaced provider get to end before it shuts down (ms). */
  drainMs?: number;
}

/** The process's tracing: one provider at a time, replaced when the OTLP endpoint changes. */
export class ReloadableTracing {
  readonly tracer: SwitchableTracer;
  private provider: BasicTracerProvider;
  private endpoint: string | undefined;
  private readonly retiring = new Set<Promise<void>>();

  constructor(private readonly o: TracingOptions) {
    this.endpoint = o.otlpEndpoint;
    this.provider = createTracerProvider({ serviceName: o.serviceName, otlpEndpoint: o.otlpEndpoint });
    this.tracer = new SwitchableTracer(this.provider.getTracer(o.serviceName));
  }

  get otlpEndpoint(): string | undefined {
    return this.endpoint;
  }

  /** Applies the configured endpoint; returns true when the provider was replaced. */
  apply(otlpEndpoint: string | undefined): boolean {
    if (otlpEndpoint === this.endpoint) return false;
    const old = this.provider;
    this.endpoint = otlpEndpoint;
    this.provider = createTracerProvider({ serviceName: this.o.serviceName, otlpEndpoint });
    this.tracer.use(this.provider.getTracer(this.o.serviceName));
    // Spans started on the old provider end there; give them a moment, then flush and stop it.
    const done = new Promise<void>((resolve) => setTimeout(resolve, this.o.drainMs ?? 2000).unref())
      .then(() => old.shutdown())
      .catch(() => undefined);
    this.retiring.add(done);
    void done.finally(() => this.retiring.delete(done));
    return true;
  }

  forceFlush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /**
   * Flushes and stops the provider(s). An unreachable collector would hold the process for the
   * exporter's own timeouts and retries (tens of seconds of a pod's termination grace period),
   * so this gives up after `timeoutMs`: resolves true when everything was flushed in time.
   */
  shutdown(timeoutMs = 3000): Promise<boolean> {
    const flushed = Promise.all([this.provider.shutdown().catch(() => undefined), ...this.retiring]).then(() => true);
    return within(flushed, timeoutMs, false);
  }
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
