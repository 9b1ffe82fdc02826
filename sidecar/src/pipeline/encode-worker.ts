// The encode pool's worker (pipeline/encode.ts): builds the OIP JSON response of one inference
// (buildInferResponse, the finite check included) and hands the bytes back, transferred.

import { parentPort } from 'node:worker_threads';
import { buildInferResponse } from '../oip.js';
import type { EncodeJob, EncodeReply } from './encode.js';

const encoder = new TextEncoder();

parentPort?.on('message', (job: EncodeJob) => {
  let reply: EncodeReply;
  try {
    const body = encoder.encode(JSON.stringify(buildInferResponse(job.modelName, job.modelVersion, job.id, job.outputs, job.selected)));
    reply = { seq: job.seq, ok: true, body };
    parentPort?.postMessage(reply, [body.buffer]);
    return;
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    reply = { seq: job.seq, ok: false, code: typeof e.code === 'string' ? e.code : 'internal', message: typeof e.message === 'string' ? e.message : String(err) };
  }
  parentPort?.postMessage(reply);
});
