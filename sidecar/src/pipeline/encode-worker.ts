// The encode pool's worker (pipeline/encode.ts): builds the OIP JSON response of one inference
// (buildInferResponse, the finite check included) and hands the bytes back, transferred. Asked
// to (`collect`, once the pool is idle), it runs one full collection of its own heap.

import { parentPort } from 'node:worker_threads';
import { buildInferResponse } from '../oip.js';
import type { EncodeJob, EncodeReply } from './encode.js';
import { collectNow } from './release.js';

const encoder = new TextEncoder();

parentPort?.on('message', (job: EncodeJob | { collect: true }) => {
  if ('collect' in job) {
    collectNow();
    parentPort?.postMessage({ collected: true });
    return;
  }
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
