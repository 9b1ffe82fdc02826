// What each route of the table (SIDECAR_ROUTES) does once the front end has run the chain in
// front of it (context, CORS, authn/authz/rate limit for guarded routes, body, model allow-list
// for routes naming a model). Keyed by the table's paths; router.ts checks they match it.

import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import type { CallCore } from '../call-core.js';
import { SidecarError } from '../errors.js';
import { decryptInput, encryptInput } from '../input-crypto.js';
import { binaryTailOf } from '../json-body.js';
import { buildBinaryInferResponse, parseInferRequest } from '../oip.js';
import { sinceMs } from '../pipeline/call.js';
import type { ResponseEncoder } from '../pipeline/encode.js';
import { releaseMemorySoon } from '../pipeline/release.js';
import type { SelfCheckResult } from '../readiness.js';
import { type Exchange, sendBinaryInfer, sendJson, sendJsonText, startJsonStream } from './exchange.js';
import type { Method } from './router.js';

/** A route's work: `body` is the parsed JSON body of a POST (undefined for GET). */
export type RouteHandler = (x: Exchange, body: unknown) => void | Promise<void>;

export interface RouteDeps {
  core: CallCore;
  encoder: ResponseEncoder;
  readyAnswer: () => { status: number; body: unknown };
  selfCheck: () => Promise<SelfCheckResult>;
  /** AES-256-GCM key for /v1/encrypt_input (a getter: a rotated key file is picked up). */
  encryptionKey?: () => Buffer | undefined;
  /** The verified model directory for /v1/export_model, with its digest and verification. */
  modelDir?: string;
  info: { digest: string; verified: boolean };
}

/** Answers this large (bytes or characters) are followed by a full collection (pipeline/release.ts). */
const LARGE_ANSWER_BYTES = 8 * 1024 * 1024;

export function routeHandlers(d: RouteDeps): Record<string, Partial<Record<Method, RouteHandler>>> {
  const core = d.core;

  /** Parses, runs and answers one inference; its audit record names `action`. */
  const infer = async (x: Exchange, body: unknown, action: string): Promise<void> => {
    const model = core.io();
    const parsed = parseInferRequest(body, model.inputs, model.outputs, binaryTailOf(body));
    const outputs = await core.run(x.call, parsed.inputs);
    try {
      if (parsed.binaryOutputs) {
        const r = buildBinaryInferResponse(core.modelName(), core.modelVersion, parsed.id, outputs, parsed.outputs, parsed.binaryOutputs);
        if (x.call.phases) x.call.phases.encoded = sinceMs(x.call.started);
        x.call.answerReady?.();
        sendBinaryInfer(x, r.header, r.chunks);
      } else {
        const encoded = d.encoder.encode(core.modelName(), core.modelVersion, parsed.id, outputs, parsed.outputs);
        const text = typeof encoded === 'string' ? encoded : await encoded;
        if (x.call.phases) x.call.phases.encoded = sinceMs(x.call.started);
        x.call.answerReady?.(); // the run queue stops counting this answer (pipeline/queue.ts)
        sendJsonText(x, 200, text);
        if (text.length >= LARGE_ANSWER_BYTES) releaseMemorySoon();
      }
    } finally {
      x.call.answerReady?.();
    }
    core.audit(x.call, action, 200);
  };

  const predict = async (x: Exchange, input: unknown): Promise<void> => {
    let body = input;
    if (typeof body === 'object' && body !== null && 'model_name' in body && (body as { model_name: unknown }).model_name !== core.modelName()) {
      throw new SidecarError('model_not_found', 'model_name is not the model served here');
    }
    if (typeof body === 'object' && body !== null && 'encrypted_input' in body) {
      const key = d.encryptionKey?.();
      if (!key) throw new SidecarError('not_configured', 'input encryption is not configured');
      const plain = decryptInput(key, core.modelName(), (body as { encrypted_input: unknown }).encrypted_input);
      try {
        body = JSON.parse(plain.toString('utf8'));
      } catch (err) {
        throw new SidecarError('malformed_json', 'decrypted input is not valid JSON', { cause: err });
      }
    }
    await infer(x, body, 'predict');
  };

  const encrypt = (x: Exchange, body: unknown): void => {
    const key = d.encryptionKey?.();
    if (!key) throw new SidecarError('not_configured', 'input encryption is not configured');
    if (typeof body !== 'object' || body === null) throw new SidecarError('bad_request', 'request body must be a JSON object or array');
    let plain: Buffer;
    try {
      plain = Buffer.from(JSON.stringify(body), 'utf8');
    } catch (err) {
      // JSON.parse takes any depth the body limit allows; JSON.stringify recurses and runs out of stack.
      if (err instanceof RangeError) throw new SidecarError('bad_request', 'request body is nested too deeply to encrypt', { cause: err });
      throw err;
    }
    sendJson(x, 200, { encrypted_input: encryptInput(key, core.modelName(), plain) });
    core.audit(x.call, 'encrypt_input', 200);
  };

  // Streams the verified model directory (its regular files, signature.json included) as JSON
  // with base64 contents. File names come from the directory listing, never from the request.
  const exportModel = async (x: Exchange): Promise<void> => {
    if (!d.modelDir) throw new SidecarError('not_configured', 'model export is not configured');
    const dir = d.modelDir;
    const names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
    const files: { name: string; size: number }[] = [];
    for (const name of names) {
      const s = await stat(join(dir, name));
      if (s.isFile()) files.push({ name, size: s.size });
    }
    if (!files.some((f) => f.name === 'signature.json') && d.info.verified) throw new SidecarError('internal', 'model directory has no signature.json');
    const res = startJsonStream(x, 200);
    // HEAD: the headers GET would send; no file is read for a body that is never sent.
    if (x.method === 'HEAD') res.end();
    else {
      res.write(`{"model":${JSON.stringify(core.modelName())},"digest":${JSON.stringify(d.info.digest)},"verified":${d.info.verified},"files":[`);
      for (const [i, f] of files.entries()) {
        res.write(`${i === 0 ? '' : ','}{"name":${JSON.stringify(f.name)},"size":${f.size},"encoding":"base64","data":"`);
        await pipeBase64(join(dir, f.name), res);
        res.write('"}');
      }
      res.end(']}');
    }
    core.audit(x.call, 'export_model', 200);
  };

  const ready = (x: Exchange): void => {
    const a = d.readyAnswer();
    sendJson(x, a.status, a.body);
  };

  return {
    '/v2/health/live': { GET: (x) => sendJson(x, 200, { live: true }) },
    '/v2/health/ready': { GET: ready },
    '/healthz': {
      GET: async (x) => {
        const r = await d.selfCheck();
        if (r.ok) sendJson(x, 200, { status: 'ok', latencyMs: Math.round(r.latencyMs * 1000) / 1000 });
        else sendJson(x, 503, { error: `self-check failed: ${r.error ?? 'unknown'}` });
      },
    },
    '/v2': { GET: (x) => sendJson(x, 200, core.serverMetadata()) },
    '/v2/models/{model}': { GET: (x) => sendJson(x, 200, core.modelMetadata()) },
    '/v2/models/{model}/ready': {
      GET: (x) => {
        const r = core.readiness();
        if (r.ready) sendJson(x, 200, { name: core.modelName(), ready: true });
        else sendJson(x, 503, { error: `not ready: ${r.reason}`, name: core.modelName(), ready: false });
      },
    },
    '/v2/models/{model}/config': { GET: (x) => sendJson(x, 200, core.modelConfig()) },
    '/v2/models/{model}/infer': { POST: (x, body) => infer(x, body, 'infer') },
    '/v1/predict': { POST: predict },
    '/v1/encrypt_input': { POST: encrypt },
    '/v1/export_model': { GET: exportModel, POST: exportModel },
  };
}

/** Writes a file's bytes as base64 to the response, streaming in 3-byte-aligned chunks. */
async function pipeBase64(path: string, res: ServerResponse): Promise<void> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 3 * 64 * 1024 })) {
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    const usable = buf.length - (buf.length % 3);
    if (!res.write(buf.subarray(0, usable).toString('base64'))) await new Promise((r) => res.once('drain', r));
    carry = buf.subarray(usable);
  }
  if (carry.length > 0) res.write(carry.toString('base64'));
}
