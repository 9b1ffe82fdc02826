// Stage 12, telemetry at the end of every call of every front end: the server span (status
// code attribute; error status for 5xx), the request counter and, for calls that reached the
// predictor, the duration histogram (arrival to answer, any outcome), and the access line.
// `code` is HTTP-style (gRPC maps its outcome to one; 499: the caller went away).

import { SpanStatusCode } from '@opentelemetry/api';
import type { SidecarLoggers } from '../logging.js';
import type { SidecarMetrics } from '../metrics.js';
import { type Call, lineFields, sinceMs } from './call.js';
import { phaseDurations } from './phases.js';

/** Status codes as label strings, built once each. */
const STATUS_LABELS = new Map<number, string>();
export function statusLabel(code: number): string {
  let l = STATUS_LABELS.get(code);
  if (l === undefined) {
    l = String(code);
    if (STATUS_LABELS.size < 1000) STATUS_LABELS.set(code, l);
  }
  return l;
}

export class Telemetry {
  constructor(
    private readonly metrics: SidecarMetrics,
    private readonly loggers: SidecarLoggers,
    private readonly modelName: () => string,
  ) {}

  close(call: Call, code: number, route: string, method: string): void {
    const span = call.span;
    span.setAttribute('http.response.status_code', code);
    if (code >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: call.failureReason ?? `HTTP ${code}` });
    span.end();
    const model = this.modelName();
    const codeLabel = statusLabel(code);
    this.metrics.requests.labels(model, route, codeLabel).inc();
    const ms = sinceMs(call.started);
    if (call.inference) this.metrics.requestDuration.labels(model, call.inference.device, codeLabel, call.inference.seqLenBucket).observe(ms / 1000);
    // One shape for every access line (absent parts undefined, which the writer leaves out).
    const line: Record<string, unknown> = {
      '@log.kind': 'access',
      method,
      path: route,
      status: code,
      duration_ms: Math.round(ms * 1000) / 1000,
      request_id: call.requestId,
      subject: call.principal?.subject,
      '@error.cause': call.failureReason || undefined,
      phases_ms: call.phases && phaseDurations(call.phases, ms),
      batch: call.batch,
    };
    this.loggers.info(line, 'request served', lineFields(call));
  }
}
