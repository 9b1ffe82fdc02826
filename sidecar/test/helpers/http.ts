// A small HTTPS/HTTP client for the tests (node:https, so custom CAs and client certs work).

import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';

export interface TestResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: unknown;
  /** The server certificate's subject CN (TLS only). */
  peerCn?: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: string | Buffer;
  ca?: string;
  cert?: string;
  key?: string;
  agent?: Agent;
}

export function request(url: string, o: RequestOptions = {}): Promise<TestResponse> {
  const u = new URL(url);
  const payload = o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const opts = {
      method: o.method ?? (payload === undefined ? 'GET' : 'POST'),
      headers,
      ...(o.agent ? { agent: o.agent } : {}),
      ...(o.ca ? { ca: readFileSync(o.ca) } : {}),
      ...(o.cert ? { cert: readFileSync(o.cert) } : {}),
      ...(o.key ? { key: readFileSync(o.key) } : {}),
    };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      const sock = res.socket as unknown as { getPeerCertificate?: () => { subject?: { CN?: string } } } | null;
      const cn = sock?.getPeerCertificate?.()?.subject?.CN;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ...(cn ? { peerCn: cn } : {}) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
