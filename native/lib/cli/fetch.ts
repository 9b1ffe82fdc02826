// fetch: the model pod's init container. Downloads signature.json, checks its signature with the
// trusted key, then downloads every file it lists into a scratch directory beside the target,
// hashing while it streams, and moves the files into place only when every one matches. A file
// whose digest differs, a download that ends short, a total over --max-bytes, a missing object
// or a refused credential: the target stays empty, the reason goes to the termination message
// (the pod's status; the operator copies it into the PaddleService's conditions) and the exit
// status is 1, so the serving container never starts. Network errors, 5xx, 429 and short reads
// are retried with exponential backoff (with jitter) before giving up.
//
//   fetch (--s3-bucket B [--s3-endpoint URL] [--s3-prefix P] [--s3-region R] [--credentials-dir D]
//          | --url https://... [--headers-file F] [--ca-file F])
//         (--key PUB.pem | --unsigned) --dest DIR [--max-bytes N] [--retries N] [--backoff-ms N]
//         [--termination-log FILE]

import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UsageError, flag, intFlag, required, type Args, type CliIo } from './args.js';
import { ModelRefusedError, SIGNATURE_FILE, parseSignature, readPublicKey, verifySignature, type SignatureDoc } from './manifest.js';
import { StoreError, storeFromArgs, type ObjectStore } from './store.js';

export const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;
export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';
/** The kubelet keeps at most 4096 bytes of a termination message. */
const TERMINATION_LIMIT = 4000;

export interface FetchOptions {
  store: ObjectStore;
  dest: string;
  /** Verify signature.json with this key; undefined: digests only (verification.required false). */
  publicKey?: ReturnType<typeof readPublicKey>;
  maxBytes: number;
  retries: number;
  backoffMs: number;
  log: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

export interface FetchResult {
  files: string[];
  bytes: number;
  signature: SignatureDoc;
}

/** Backoff before attempt `attempt` (1-based retries): base * 2^(n-1), +-25 % jitter, at most 30 s. */
export function backoffDelay(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const raw = Math.min(30_000, baseMs * 2 ** (attempt - 1));
  return Math.round(raw * (0.75 + 0.5 * random()));
}

class PartialDownload extends StoreError {}

/** Streams one object into `path`, hashing it; refuses bytes beyond `budget`. */
async function download(store: ObjectStore, name: string, path: string, budget: number): Promise<{ bytes: number; sha256: string }> {
  const obj = await store.get(name);
  if (obj.length !== undefined && obj.length > budget) {
    obj.abort();
    throw new ModelRefusedError(`${name}: ${obj.length} bytes would exceed the size limit (${budget} bytes left of --max-bytes)`, name);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  async function* counted(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      bytes += chunk.length;
      if (bytes > budget) throw new ModelRefusedError(`${name}: more than ${budget} bytes, over the size limit (--max-bytes)`, name);
      hash.update(chunk);
      yield chunk;
    }
  }
  try {
    await pipeline(obj.body, counted, createWriteStream(path, { mode: 0o644 }));
  } catch (err) {
    obj.abort();
    if (err instanceof ModelRefusedError) throw err;
    throw new PartialDownload(`${name}: the transfer broke after ${bytes} bytes: ${(err as Error).message}`, true);
  }
  if (obj.length !== undefined && bytes !== obj.length) {
    throw new PartialDownload(`${name}: partial download, got ${bytes} of ${obj.length} bytes`, true);
  }
  return { bytes, sha256: hash.digest('hex') };
}

async function downloadBytes(store: ObjectStore, name: string, limit: number): Promise<Buffer> {
  const obj = await store.get(name);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of obj.body) {
    n += c.length;
    if (n > limit) {
      obj.abort();
      throw new ModelRefusedError(`${name}: more than ${limit} bytes`, name);
    }
    chunks.push(Buffer.from(c));
  }
  if (obj.length !== undefined && n !== obj.length) throw new PartialDownload(`${name}: partial download, got ${n} of ${obj.length} bytes`, true);
  return Buffer.concat(chunks);
}

/** Runs `step`, retrying transient StoreErrors with backoff; the last error names the attempts. */
async function withRetries<T>(what: string, opts: FetchOptions, step: () => Promise<T>): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof StoreError) || !err.transient) throw err;
      if (attempt >= opts.retries) throw new StoreError(`${err.message} (gave up after ${attempt + 1} attempts)`, false, err.status);
      const delay = backoffDelay(attempt + 1, opts.backoffMs);
      opts.log(`${what}: ${err.message}; retry ${attempt + 1}/${opts.retries} in ${delay} ms`);
      await sleep(delay);
    }
  }
}

/** Downloads, verifies and installs a model directory; throws ModelRefusedError / StoreError. */
export async function fetchModel(opts: FetchOptions): Promise<FetchResult> {
  mkdirSync(opts.dest, { recursive: true });
  const leftovers = readdirSync(opts.dest).filter((n) => !n.startsWith('.fetch-'));
  if (leftovers.length > 0) throw new UsageError(`--dest ${opts.dest} is not empty (${leftovers.slice(0, 5).join(', ')})`);
  const scratch = join(opts.dest, `.fetch-${process.pid}-${Date.now()}`);
  mkdirSync(scratch);
  try {
    const sigBytes = await withRetries(SIGNATURE_FILE, opts, () => downloadBytes(opts.store, SIGNATURE_FILE, 1024 * 1024));
    const signature = parseSignature(sigBytes);
    if (opts.publicKey) verifySignature(signature, opts.publicKey);
    const names = Object.keys(signature.files).sort();
    let total = sigBytes.length;
    for (const name of names) {
      const path = join(scratch, name);
      const got = await withRetries(name, opts, () => download(opts.store, name, path, opts.maxBytes - total));
      const expected = signature.files[name];
      if (got.sha256 !== expected) {
        throw new ModelRefusedError(`${name}: SHA-256 ${got.sha256} does not match ${expected} in ${SIGNATURE_FILE} (the object was changed or corrupted)`, name);
      }
      total += got.bytes;
      opts.log(`${name}: ${got.bytes} bytes, sha256 ok`);
    }
    writeFileSync(join(scratch, SIGNATURE_FILE), sigBytes);
    // Every file checked: move them in (same filesystem), signature.json last.
    for (const name of [...names, SIGNATURE_FILE]) renameSync(join(scratch, name), join(opts.dest, name));
    return { files: names, bytes: total, signature };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function writeTermination(path: string, text: string, io: CliIo): void {
  try {
    writeFileSync(path, text.length > TERMINATION_LIMIT ? `${text.slice(0, TERMINATION_LIMIT - 3)}...` : text);
  } catch (err) {
    io.err(`paddle-model fetch: cannot write the termination message to ${path}: ${(err as Error).message}`);
  }
}

export async function fetchCommand(args: Args, io: CliIo): Promise<number> {
  const terminationLog = flag(args, 'termination-log') ?? DEFAULT_TERMINATION_LOG;
  let store: ObjectStore | undefined;
  try {
    const dest = required(args, 'dest', 'DIR (the emptyDir the serving container mounts)');
    const keyPath = flag(args, 'key');
    if (!keyPath && !args.flags.has('unsigned')) throw new UsageError('fetch needs --key PUBLIC_KEY.pem (or --unsigned: digests checked, signature not)');
    store = storeFromArgs(args);
    const opts: FetchOptions = {
      store,
      dest,
      ...(keyPath ? { publicKey: readPublicKey(keyPath) } : {}),
      maxBytes: intFlag(args, 'max-bytes', DEFAULT_MAX_BYTES),
      retries: intFlag(args, 'retries', 4, 0),
      backoffMs: intFlag(args, 'backoff-ms', 500),
      log: (line) => io.out(`paddle-model fetch: ${line}`),
    };
    io.out(`paddle-model fetch: from ${store.describe()} into ${dest} (limit ${opts.maxBytes} bytes)`);
    const r = await fetchModel(opts);
    const how = opts.publicKey ? `signature verified (${r.signature.algorithm}, keyId ${r.signature.keyId ?? '-'})` : 'digests checked, signature NOT verified (--unsigned)';
    const msg = `fetched ${r.files.join(', ')} (${r.bytes} bytes) from ${store.describe()}; ${how}`;
    io.out(`paddle-model fetch: ${msg}`);
    writeTermination(terminationLog, msg, io);
    return 0;
  } catch (err) {
    const reason =
      err instanceof ModelRefusedError
        ? `model refused: ${err.message}`
        : err instanceof StoreError
          ? `download failed: ${err.message}`
          : err instanceof UsageError
            ? `configuration error: ${err.message}`
            : `fetch failed: ${(err as Error).message}`;
    writeTermination(terminationLog, reason, io);
    if (err instanceof UsageError) throw err;
    io.err(`paddle-model fetch: ${reason}`);
    return 1;
  } finally {
    (store as { destroy?: () => void } | undefined)?.destroy?.();
  }
}
