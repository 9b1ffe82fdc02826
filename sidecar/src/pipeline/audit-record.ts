// Stage 13, audit: one record per guarded call (allowed or denied), as a log line
// (`@log.kind` audit) and, when an audit target is set, an event to the shipper. 401/403/429
// are `deny`. A call that was allowed and computed but whose caller had gone is recorded as 499
// `client_closed` (the answer was not delivered).

import type { AuditEvent } from '../audit.js';
import type { SidecarLoggers } from '../logging.js';
import { type Call, CLIENT_CLOSED_STATUS, lineFields } from './call.js';

/** Where audit events go (the AuditShipper in production; anything with `record` in tests). */
export interface AuditSink {
  record(e: AuditEvent): number;
}

export class AuditRecorder {
  constructor(
    private readonly loggers: SidecarLoggers,
    private readonly modelDigest: string,
    private readonly sink: AuditSink | undefined,
  ) {}

  record(call: Call, action: string, answered: number, why?: string): void {
    const gone = answered < 400 && call.clientClosed === true;
    const status = gone ? CLIENT_CLOSED_STATUS : answered;
    const reason = gone ? 'client_closed' : why;
    const decision = status === 401 || status === 403 || status === 429 ? 'deny' : 'allow';
    const subject = call.principal?.subject ?? '-';
    const line: Record<string, unknown> = { '@log.kind': 'audit', action, decision, status, subject, '@error.cause': reason || undefined };
    this.loggers.info(line, 'audit event', lineFields(call));
    if (!this.sink) return;
    const event: AuditEvent = {
      action,
      outcome: status < 400 ? 'success' : 'failure',
      decision,
      subject,
      path: call.policyPath ?? '-',
      status,
      modelDigest: this.modelDigest,
      group: call.group,
      envId: call.envId,
      traceId: call.traceId,
      requestId: call.requestId,
    };
    if (reason) event.reason = reason;
    this.sink.record(event);
  }
}

/** The audit action of a guarded policy path (`/v2/models/{model}/infer` -> `models__model__infer`). */
export function auditAction(policyPath: string): string {
  return policyPath.replace(/^\/v[12]\//, '').replace(/\W+/g, '_');
}
