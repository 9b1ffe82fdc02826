// Where model files live outside the cluster: an S3 bucket (any S3 API: AWS, MinIO, Ceph RGW,
// gofakes3 in the tests) through @aws-sdk/client-s3, or an HTTPS directory through node:https.
// A store names objects by plain file name under its prefix / base URL. describe() never holds a
// credential; errors carry the HTTP status so the fetcher can tell a transient failure (network,
// 5xx, 429) from a permanent one (403, 404).

import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { UsageError, flag, required, type Args } from './args.js';

export interface StoreObject {
  body: AsyncIterable<Uint8Array>;
  /** Content-Length as the server announced it, when it did. */
  length?: number;
  /** Stops the transfer (the body then ends or throws). */
  abort: () => void;
}

export interface ObjectStore {
  /** Where the files are, for messages: no credentials, no header values. */
  describe(): string;
  get(name: string): Promise<StoreObject>;
  put(name: string, bytes: Buffer): Promise<void>;
}

/** A store request that failed; `transient` ones are retried with backoff. */
export class StoreError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** Stops a response body we no longer read; its late 'aborted' error has nobody to tell. */
function quietly(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export interface S3Location {
  endpoint?: string;
  bucket: string;
  prefix: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Joins a key prefix and a file name with exactly one slash ('' prefix: the bucket root). */
export function objectKey(prefix: string, name: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return p === '' ? name : `${p}/${name}`;
}

function s3Failure(err: unknown, what: string): StoreError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e.$metadata?.httpStatusCode;
  const reason = `${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`;
  // No status: a network error (refused, reset, DNS, TLS): worth another try.
  return new StoreError(`${what}: ${reason}`, status === undefined || isTransientStatus(status), status);
}

export class S3Store implements ObjectStore {
  private readonly client: S3Client;
  constructor(private readonly loc: S3Location) {
    this.client = new S3Client({
      region: loc.region,
      ...(loc.endpoint ? { endpoint: loc.endpoint, forcePathStyle: true } : {}),
      credentials: { accessKeyId: loc.accessKeyId, secretAccessKey: loc.secretAccessKey },
      // The fetcher retries with its own backoff and reports each attempt.
      maxAttempts: 1,
    });
  }

  describe(): string {
    return `s3://${this.loc.bucket}/${objectKey(this.loc.prefix, '')}${this.loc.endpoint ? ` at ${this.loc.endpoint}` : ''}`;
  }

  async get(name: string): Promise<StoreObject> {
    const key = objectKey(this.loc.prefix, name);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: key }));
      if (!r.Body) throw new StoreError(`GET s3://${this.loc.bucket}/${key}: empty response`, true);
      const body = r.Body as Readable;
      return { body, ...(r.ContentLength !== undefined ? { length: r.ContentLength } : {}), abort: () => quietly(body) };
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw s3Failure(err, `GET s3://${this.loc.bucket}/${key}`);
    }
  }

  async put(name: string, bytes: Buffer): Promise<void> {
    const key = objectKey(this.loc.prefix, name);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.loc.bucket, Key: key, Body: bytes, ContentLength: bytes.length }));
    } catch (err) {
      throw s3Failure(err, `PUT s3://${this.loc.bucket}/${key}`);
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

export interface HttpsLocation {
  /** Base URL of the model directory; files are fetched as <url>/<name>. */
  url: string;
  headers: Record<string, string>;
  /** Extra trusted CA certificates (PEM), for a private CA. */
  ca?: Buffer;
}

/** Parses a headers file (`Name: value` per line, # comments): what a Secret holds for https sources. */
export function parseHeaders(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    // The value is never echoed: it is usually a bearer token.
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new UsageError(`${what} line ${i + 1}: expected "Name: value"`);
    const value = line.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value)) throw new UsageError(`${what} line ${i + 1}: header ${name} has a control character in its value`);
    out[name] = value;
  });
  return out;
}

export class HttpsStore implements ObjectStore {
  private readonly base: URL;
  constructor(private readonly loc: HttpsLocation) {
    let base: URL;
    try {
      base = new URL(loc.url.endsWith('/') ? loc.url : `${loc.url}/`);
    } catch {
      throw new UsageError(`--url ${JSON.stringify(loc.url)} is not a URL`);
    }
    if (base.protocol !== 'https:') throw new UsageError(`--url must be https://, got ${base.protocol}`);
    if (base.username || base.password) throw new UsageError('--url must not carry credentials; put them in the headers file');
    this.base = base;
  }

  describe(): string {
    const names = Object.keys(this.loc.headers);
    return `${this.base.origin}${this.base.pathname}${names.length > 0 ? ` (headers: ${names.join(', ')})` : ''}`;
  }

  get(name: string): Promise<StoreObject> {
    const url = new URL(name, this.base);
    const where = `GET ${url.origin}${url.pathname}`;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { method: 'GET', headers: this.loc.headers, ...(this.loc.ca ? { ca: this.loc.ca } : {}), timeout: 30_000 }, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.resume();
          reject(new StoreError(`${where}: HTTP ${status}`, isTransientStatus(status), status));
          return;
        }
        const length = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
        resolve({ body: res, ...(length !== undefined && Number.isFinite(length) ? { length } : {}), abort: () => quietly(res) });
      });
      req.on('timeout', () => req.destroy(new Error('no response in 30 s')));
      req.on('error', (err) => reject(new StoreError(`${where}: ${err.message}`, true)));
      req.end();
    });
  }

  put(): Promise<void> {
    return Promise.reject(new UsageError('push writes to S3 only; an https source is read-only'));
  }
}

function readSecretFile(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, name), 'utf8').trim();
  } catch {
    throw new UsageError(`credentials: ${join(dir, name)} is missing (the Secret needs key ${name})`);
  }
}

/**
 * The store the flags name: `--s3-bucket` (with --s3-endpoint, --s3-prefix, --s3-region,
 * credentials from --credentials-dir's accessKeyId / secretAccessKey files, else
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) or `--url` (with --headers-file, --ca-file).
 */
export function storeFromArgs(args: Args, env: NodeJS.ProcessEnv = process.env): ObjectStore {
  const bucket = flag(args, 's3-bucket');
  const url = flag(args, 'url');
  if ((bucket === undefined) === (url === undefined)) throw new UsageError(`${args.command} needs exactly one of --s3-bucket BUCKET or --url https://...`);
  if (url !== undefined) {
    const headersFile = flag(args, 'headers-file');
    const caFile = flag(args, 'ca-file');
    return new HttpsStore({
      url,
      headers: headersFile ? parseHeaders(readFileSync(headersFile, 'utf8'), headersFile) : {},
      ...(caFile ? { ca: readFileSync(caFile) } : {}),
    });
  }
  const credsDir = flag(args, 'credentials-dir');
  const accessKeyId = credsDir ? readSecretFile(credsDir, 'accessKeyId') : (env.AWS_ACCESS_KEY_ID ?? '');
  const secretAccessKey = credsDir ? readSecretFile(credsDir, 'secretAccessKey') : (env.AWS_SECRET_ACCESS_KEY ?? '');
  if (!accessKeyId || !secretAccessKey) throw new UsageError('S3 credentials: give --credentials-dir DIR (files accessKeyId, secretAccessKey) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  const endpoint = flag(args, 's3-endpoint');
  return new S3Store({
    ...(endpoint ? { endpoint } : {}),
    bucket: required(args, 's3-bucket', 'BUCKET'),
    prefix: flag(args, 's3-prefix') ?? '',
    region: flag(args, 's3-region') ?? env.AWS_REGION ?? 'us-east-1',
    accessKeyId,
    secretAccessKey,
  });
}
