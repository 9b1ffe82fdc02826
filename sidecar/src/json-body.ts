// Request body reading for the sidecar: the byte limit is enforced while reading (a declared
// Content-Length over the limit is refused before reading anything), the body must be JSON
// (an object or array at the top), and compressed bodies are refused. Errors are SidecarErrors
// (413 / 400 / 415), handled by the one error middleware.

import type { NextFunction, Request, Response } from 'express';
import { SidecarError } from './errors.js';

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

export function jsonBody(limitBytes: number) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!METHODS_WITH_BODY.has(req.method)) return next();
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      next(new SidecarError('bad_request', `content encoding ${JSON.stringify(encoding.slice(0, 32))} is not supported`, { httpStatus: 415 }));
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limitBytes) {
      req.resume();
      next(new SidecarError('payload_too_large', 'request body too large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (err: SidecarError): void => {
      if (failed) return;
      failed = true;
      req.removeAllListeners('data');
      req.resume(); // discard the rest; the response goes out now
      next(err);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) fail(new SidecarError('payload_too_large', 'request body too large'));
      else chunks.push(chunk);
    });
    req.on('error', (err) => fail(new SidecarError('bad_request', 'request body could not be read', { cause: err })));
    req.on('end', () => {
      if (failed) return;
      if (size === 0) {
        req.body = undefined;
        next();
        return;
      }
      const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)).toString('utf8');
      const first = text.trimStart()[0];
      if (first !== '{' && first !== '[') {
        fail(new SidecarError('malformed_json', 'malformed JSON body'));
        return;
      }
      try {
        req.body = JSON.parse(text) as unknown;
      } catch (err) {
        fail(new SidecarError('malformed_json', 'malformed JSON body', { cause: err }));
        return;
      }
      next();
    });
  };
}
