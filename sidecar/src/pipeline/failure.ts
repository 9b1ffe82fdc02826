// Failures, for every front end: any error becomes a SidecarError (status, code, message; body
// parser errors map to 413/400; anything unknown is a 500 `internal` whose cause is logged, never
// sent), its cause goes on the call (access line), a 5xx writes an event line, a guarded call
// gets its audit record, and every 4xx/5xx but predictor failures (counted where they happen)
// is counted by reason.

import { describeCause, SidecarError } from '../errors.js';
import type { SidecarLoggers } from '../logging.js';
import type { SidecarMetrics } from '../metrics.js';
import { auditAction, type AuditRecorder } from './audit-record.js';
import type { Call } from './call.js';

export function toSidecarError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return new SidecarError('payload_too_large', 'request body too large', { cause: err });
  if (type === 'entity.parse.failed') return new SidecarError('malformed_json', 'malformed JSON body', { cause: err });
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new SidecarError('bad_request', 'unsupported body encoding', { cause: err });
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) return new SidecarError('bad_request', 'bad request', { cause: err, httpStatus: status });
  return new SidecarError('internal', 'internal error', { cause: err });
}

export class Failures {
  constructor(
    private readonly loggers: SidecarLoggers,
    private readonly metrics: SidecarMetrics,
    private readonly audit: AuditRecorder,
    private readonly modelName: () => string,
  ) {}

  /** The bookkeeping of one failed call (undefined: it failed before a call was opened); returns the error to answer. */
  note(call: Call | undefined, err: unknown): SidecarError {
    const e = toSidecarError(err);
    if (call) {
      call.failureReason = `${e.code}: ${describeCause(e.cause ?? e)}`;
      if (e.httpStatus >= 500) {
        call.logger ??= this.loggers.forRequest(call.traceId, call.spanId);
        call.logger.error({ '@log.kind': 'event', code: e.code, '@error.cause': describeCause(e) }, 'request failed');
      }
      if (call.policyPath) this.audit.record(call, auditAction(call.policyPath), e.httpStatus, e.code);
    }
    if (e.httpStatus >= 400 && e.code !== 'inference_failed') this.metrics.failures.labels(this.modelName(), e.code).inc();
    return e;
  }
}
