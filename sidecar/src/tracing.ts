// OpenTelemetry: a tracer provider (sdk-trace-base), W3C trace context in and out. The OTLP
// exporter is wired only when an endpoint is configured; tests pass their own span processor.
// `ReloadableTracing` lets a hot-reloaded `otlp` config take effect without a restart: a new
// provider is built, the tracer handed to the app switches to it, the old one is flushed and
// shut down.

import { type Context, context as otelContext, ROOT_CONTEXT, type Span, type SpanContext, type SpanOptions, type TextMapGetter, trace, TraceFlags, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { IncomingHttpHeaders } from 'node:http';
import { newSpanIdHex, newTraceIdHex } from './ids.js';
import { within } from './clock.js';

/**
 * The URL spans are posted to: `endpoint` is the collector's base URL (as
 * OTEL_EXPORTER_OTLP_ENDPOINT), so /v1/traces is appended; an endpoint that already names the
 * traces path is used as it is (never .../v1/traces/v1/traces).
 */
export function tracesUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return /\/v1\/traces$/.test(base) ? base : `${base}/v1/traces`;
}

export function createTracerProvider(o: { serviceName: string; otlpEndpoint?: string | undefined; spanProcessors?: SpanProcessor[] | undefined }): BasicTracerProvider {
  const processors = [...(o.spanProcessors ?? [])];
  if (o.otlpEndpoint) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(o.otlpEndpoint) })));
  }
  // Nothing receives spans without a processor: record none (spans stay non-recording, yet
  // carry trace and span ids, so logs, audit records and the outgoing traceparent keep them).
  const sampler = processors.length === 0 ? { sampler: new AlwaysOffSampler() } : {};
  return new BasicTracerProvider({ resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: o.serviceName }), spanProcessors: processors, ...sampler });
}

// ---- a tracer for a process that exports nothing
//
// Without an exporter the SDK's spans are sampled off anyway; all a request needs from its span is
// a trace id (the caller's, or a new one), a span id of its own, and the traceparent to send on.
// IdOnlyTracer gives exactly that, as the API's non-recording spans, without the SDK's sampler,
// attribute sanitising and Math.random id generator on every request.

/**
 * Non-recording spans with real ids, continuing the parent's trace (and its tracestate) when the
 * context holds a valid one, sampled flag off: what the SDK with an AlwaysOff sampler gives,
 * at a fraction of its cost.
 */
export class IdOnlyTracer implements Tracer {
  startSpan(_name: string, _options?: SpanOptions, ctx: Context = otelContext.active()): Span {
    return idOnlySpan(trace.getSpanContext(ctx));
  }

  startActiveSpan: Tracer['startActiveSpan'] = ((name: string, ...rest: unknown[]): unknown => {
    const fn = rest[rest.length - 1] as (span: Span) => unknown;
    const options = rest.length >= 2 ? (rest[0] as SpanOptions | undefined) : undefined;
    const ctx = rest.length >= 3 ? (rest[1] as Context) : otelContext.active();
    const span = this.startSpan(name, options, ctx);
    return otelContext.with(trace.setSpan(ctx, span), fn, undefined, span);
  }) as Tracer['startActiveSpan'];
}

/** A non-recording span in `parent`'s trace (a remote parent is checked first), or in a new one. */
function idOnlySpan(parent: SpanContext | undefined): Span {
  const continues = parent !== undefined && (parent.isRemote !== true || trace.isSpanContextValid(parent));
  const sc: SpanContext = { traceId: continues ? parent.traceId : newTraceIdHex(), spanId: newSpanIdHex(), traceFlags: TraceFlags.NONE };
  if (continues && parent.traceState) sc.traceState = parent.traceState;
  return trace.wrapSpanContext(sc);
}

/**
 * A child of `parentSpan` (whose own parent context is `parentContext`). For a tracer that
 * records nothing the child is made from the parent's ids alone, without building a context.
 */
export function startChildSpan(tracer: Tracer, name: string, options: SpanOptions, parentContext: Context, parentSpan: Span): Span {
  if (!tracerRecords(tracer)) return idOnlySpan(parentSpan.spanContext());
  return tracer.startSpan(name, options, trace.setSpan(parentContext, parentSpan));
}

/** False for a tracer known to record nothing (so a caller may skip building span names and attributes). */
export function tracerRecords(t: Tracer): boolean {
  if (t instanceof SwitchableTracer) return t.records;
  return !(t instanceof IdOnlyTracer);
}

/** The tracer a provider's spans should come from: the SDK's when something exports, else ids only. */
function tracerOf(provider: BasicTracerProvider, exporting: boolean, name: string): Tracer {
  return exporting ? provider.getTracer(name) : new IdOnlyTracer();
}

/** A Tracer that forwards to whichever tracer is current (swapped on an otlp reload). */
export class SwitchableTracer implements Tracer {
  /** Whether the current tracer records, kept with it (every request asks). */
  private recording: boolean;
  constructor(private current: Tracer) {
    this.recording = tracerRecords(current);
  }
  use(t: Tracer): void {
    this.current = t;
    this.recording = tracerRecords(t);
  }
  get records(): boolean {
    return this.recording;
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
    this.tracer = new SwitchableTracer(tracerOf(this.provider, Boolean(o.otlpEndpoint), o.serviceName));
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
    this.tracer.use(tracerOf(this.provider, Boolean(otlpEndpoint), this.o.serviceName));
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

/** The W3C traceparent header value naming `sc` (version 00). */
export function traceparentOf(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** The headers (traceparent, tracestate) that carry `ctx` onward. */
export function injectTraceContext(ctx: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, { set: (c, k, v) => void (c[k] = v) });
  return carrier;
}

export type { Tracer };
