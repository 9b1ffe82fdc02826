// The one request object of the pipeline. Every front end (REST in rest/, gRPC in grpc/) opens
// one per request through the context stage (context.ts) and hands it to the stages in turn;
// each stage reads what the ones before it wrote and adds its own part. Nothing in here knows
// about node:http or grpc-js.

import type { Context, Span } from '@opentelemetry/api';
import type { Device } from '../../../crds/src/types.js';
import type { Principal } from '../auth.js';
import type { TestGroup } from '../breaker.js';
import { type Logger, type SharedFields, SharedShape } from '../logging.js';
import type { PhaseMarks } from './phases.js';

export interface Call {
  readonly requestId: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly span: Span;
  /** The incoming trace context; with the server span, the parent of child spans. */
  readonly parent: Context;
  readonly envId: string;
  group: TestGroup;
  /** The group came from canary.treatmentPercent (no X-Test-Group header), not from the caller. */
  groupAssigned: boolean;
  /** process.hrtime.bigint() at arrival. */
  readonly started: bigint;
  /** Created on first use (most calls only write the access line, through the root logger). */
  logger?: Logger;
  /** Route label for metrics and the access log, once the route is known. */
  route?: string;
  principal?: Principal;
  policyPath?: string;
  domain?: string;
  failureReason?: string;
  /** The caller went away before the answer was complete. */
  clientClosed?: boolean;
  /**
   * Set by the run queue while the call waits for a run slot: takes it out of the queue (its
   * client went away), so it stops counting toward maxQueued at once. The call's close calls it.
   */
  abandonWait?: () => void;
  /** Set once the call reached the predictor: labels of the duration histogram. */
  inference?: { device: Device; seqLenBucket: string };
  /** Inference phases (phases.ts), for the access line. */
  phases?: PhaseMarks;
  /** Batching on: the run this call shared (requests and rows in it), for the access line. */
  batch?: { requests: number; rows: number };
  /**
   * The front end reports the run's service time once the answer's last byte is written
   * (REST); otherwise the predictor stage reports it when the run returns (gRPC).
   */
  serviceAtAnswer?: boolean;
  /** The run of a `serviceAtAnswer` call: its queue shape key and start, until the answer is out. */
  service?: { key: string; started: bigint };
  /**
   * Set while a `serviceAtAnswer` call's answer is being encoded: tells the run queue the bytes
   * are ready (the answer stops counting there). Idempotent; the call's close calls it too.
   * Called as the call's method (`call.answerReady?.()`): one function serves every call.
   */
  answerReady?: () => void;
  /** The admitted bytes the answer being encoded still holds in the run queue. */
  answeringBytes?: number;
  /** What the call's log lines share (lineFields), and the group it was built with. */
  lineFields?: SharedFields;
  lineFieldsGroup?: TestGroup;
}

const CALL_LINE = new SharedShape(['trace_id', '@span.id', 'env_id', 'test_group']);

/**
 * The fields every log line of the call carries (trace_id, @span.id, env_id, test_group: its
 * access and audit lines), serialised and schema-checked once per call, not once per line;
 * built again when the canary group changed since (authn re-assigns it).
 */
export function lineFields(call: Call): SharedFields {
  let f = call.lineFields;
  if (f === undefined || call.lineFieldsGroup !== call.group) {
    f = call.lineFields = CALL_LINE.share({ trace_id: call.traceId, '@span.id': call.spanId, env_id: call.envId, test_group: call.group });
    call.lineFieldsGroup = call.group;
  }
  return f;
}

/** Milliseconds since an hrtime.bigint() stamp. */
export function sinceMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** The status recorded for a call whose client went away before the answer was sent (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

/** The model version the sidecar serves (OIP paths may name it). */
export const MODEL_VERSION = '1';
