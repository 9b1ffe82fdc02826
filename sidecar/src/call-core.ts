// The request pipeline as every front end sees it (rest/front-end.ts, grpc/server.ts). createApp
// builds one `CallCore` over the stages in pipeline/, so a REST request and a gRPC call get the same
// request id, trace and dyeing context, token check, default-deny policy, rate limit bucket,
// model allow-list, degradation tree, breaker, predictor, metrics, matrix, span, access line and
// audit record; the front end only turns its wire format into these calls.

import type { IncomingHttpHeaders } from 'node:http';
import type { SidecarError } from './errors.js';
import type { ModelConfigJson } from './model-config.js';
import type { Call } from './pipeline/call.js';
import type { Tensor, TensorInfo } from './predictor.js';

/** One call in flight (pipeline/call.ts: the one request object every stage works on). */
export type CallHandle = Call;

export interface ModelMetadataJson {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

export interface CallCore {
  /** Starts a call: request id, W3C trace context and dyeing from `headers` (lower-case names), the server span. */
  open(method: string, path: string, headers: IncomingHttpHeaders, remoteAddress: string | undefined): CallHandle;
  /** Ends it: span, request metrics and the access line, with an HTTP-style status and the route label. */
  close(call: CallHandle, status: number, route: string, method: string): void;
  /** Token (from `authorization`), the policy of `policyPath` (default-deny), rate limit. `connection` keys the token cache. */
  authorize(call: CallHandle, policyPath: string, authorization: string | undefined, connection: object | undefined, remoteAddress: string | undefined): void | Promise<void>;
  /** The model allow-list (name, and version when given). */
  checkModel(name: unknown, version: unknown): void;
  /** The active predictor's inputs and outputs. */
  io(): { inputs: TensorInfo[]; outputs: TensorInfo[] };
  /** Degradation tree, breaker, predictor (with matrix, inflight, child span). */
  run(call: CallHandle, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  audit(call: CallHandle, action: string, status: number, reason?: string): void;
  /** Failure bookkeeping (cause, 5xx event line, audit of a guarded call, failure count); returns the error to answer. */
  fail(call: CallHandle | undefined, err: unknown): SidecarError;
  /** The W3C traceparent of the call's server span (for the answer's metadata). */
  traceparent(call: CallHandle): string;
  /** Inference requests the run queue can hold at once (run slots + queue.maxQueued): the bound on requests being received too. */
  capacity(): number;
  readiness(): { ready: boolean; reason: string };
  serverMetadata(): { name: string; version: string; extensions: string[] };
  modelMetadata(): ModelMetadataJson;
  modelConfig(): ModelConfigJson;
  modelName(): string;
  modelVersion: string;
}
