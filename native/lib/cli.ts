// paddle-model: sign | verify | inspect | run, for users' CI pipelines.
//   paddle-model sign --key PRIV.pem [--algorithm RSA-PKCS1v15-SHA256|ECDSA-P256-SHA256|Ed25519] [--key-id ID] DIR
//   paddle-model verify --key PUB.pem DIR
//   paddle-model inspect (--key PUB.pem | --unsigned) DIR
//   paddle-model run (--key PUB.pem | --unsigned) --inputs FILE.json DIR
// Exit status: 0 ok, 1 model refused or failed, 2 usage error.
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PaddleError, Predictor, type DType, type Tensor } from './index.js';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const ALGORITHMS = ['RSA-PKCS1v15-SHA256', 'ECDSA-P256-SHA256', 'Ed25519'] as const;
type Algorithm = (typeof ALGORITHMS)[number];
const USAGE = `usage:
  paddle-model sign --key PRIV.pem [--algorithm ${ALGORITHMS.join('|')}] [--key-id ID] DIR
  paddle-model verify --key PUB.pem DIR
  paddle-model inspect (--key PUB.pem | --unsigned) DIR
  paddle-model run (--key PUB.pem | --unsigned) --inputs FILE.json DIR`;

class UsageError extends Error {}

interface Args {
  command: string;
  dir: string;
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[]): Args {
  const [command, ...rest] = argv;
  if (!command) throw new UsageError('missing command');
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a === '--unsigned') flags.set('unsigned', true);
    else if (a.startsWith('--')) {
      const value = rest[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${a} needs a value`);
      flags.set(a.slice(2), value);
      i++;
    } else positional.push(a);
  }
  if (positional.length !== 1) throw new UsageError('expected exactly one model directory');
  return { command, dir: positional[0] as string, flags };
}

function flag(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

function algorithmFor(key: KeyObject): Algorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RSA-PKCS1v15-SHA256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ECDSA-P256-SHA256';
  if (key.asymmetricKeyType === 'ed25519') return 'Ed25519';
  throw new UsageError(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (RSA, EC P-256 or Ed25519)`);
}

/** The files a model directory holds, as they are signed. */
export function modelFiles(dir: string): string[] {
  const names = ['model.pdmodel', 'model.json', 'model.pdiparams'].filter((n) => existsSync(join(dir, n)));
  if (!names.includes('model.pdmodel') && !names.includes('model.json')) {
    throw new UsageError(`${dir} holds neither model.pdmodel nor model.json`);
  }
  return names.sort();
}

function signModel(args: Args, io: CliIo): number {
  const keyPath = flag(args, 'key');
  if (!keyPath) throw new UsageError('sign needs --key PRIVATE_KEY.pem');
  const key = createPrivateKey(readFileSync(keyPath));
  const algorithm = (flag(args, 'algorithm') ?? algorithmFor(key)) as Algorithm;
  if (!ALGORITHMS.includes(algorithm)) throw new UsageError(`unknown algorithm ${algorithm}`);
  if (algorithm !== algorithmFor(key)) throw new UsageError(`key type does not match ${algorithm}`);
  const files: Record<string, string> = {};
  for (const name of modelFiles(args.dir)) files[name] = createHash('sha256').update(readFileSync(join(args.dir, name))).digest('hex');
  const manifest = Object.keys(files)
    .sort()
    .map((n) => `${files[n]}  ${n}\n`)
    .join('');
  const signature = sign(algorithm === 'Ed25519' ? null : 'sha256', Buffer.from(manifest), key).toString('base64');
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const keyId = flag(args, 'key-id') ?? createHash('sha256').update(spki).digest('hex').slice(0, 16);
  writeFileSync(join(args.dir, 'signature.json'), `${JSON.stringify({ version: 1, algorithm, keyId, files, signature }, null, 2)}\n`);
  io.out(`signed ${Object.keys(files).join(', ')} in ${args.dir} with ${algorithm} (keyId ${keyId})`);
  return 0;
}

async function loadFor(args: Args): Promise<Predictor> {
  const keyPath = flag(args, 'key');
  if (!keyPath && !args.flags.has('unsigned')) throw new UsageError(`${args.command} needs --key PUBLIC_KEY.pem (or --unsigned)`);
  return keyPath
    ? Predictor.load({ modelDir: args.dir, publicKeyPem: readFileSync(keyPath, 'utf8') })
    : Predictor.load({ modelDir: args.dir, requireSignature: false });
}

async function verifyModel(args: Args, io: CliIo): Promise<number> {
  if (!flag(args, 'key')) throw new UsageError('verify needs --key PUBLIC_KEY.pem');
  const p = await loadFor(args);
  const info = p.info();
  p.dispose();
  io.out(`verified ${args.dir}: ${info.algorithm} keyId ${info.keyId ?? '-'} manifest sha256 ${info.digest}`);
  return 0;
}

async function inspectModel(args: Args, io: CliIo): Promise<number> {
  const p = await loadFor(args);
  try {
    const info = p.info();
    io.out(
      JSON.stringify(
        {
          format: info.format,
          backend: `${info.backend} ${info.backendVersion}`,
          verified: info.verified,
          algorithm: info.algorithm,
          keyId: info.keyId,
          digest: info.digest,
          parameterBytes: info.parameterBytes,
          inputs: p.inputs(),
          outputs: p.outputs(),
          ops: p.opCounts(),
        },
        null,
        2,
      ),
    );
  } finally {
    p.dispose();
  }
  return 0;
}

function toTensor(name: string, raw: unknown): Tensor {
  const t = raw as { dtype?: unknown; shape?: unknown; data?: unknown };
  const dtype = t.dtype as DType;
  if (!['float32', 'int64', 'int32'].includes(dtype)) throw new UsageError(`input ${name}: dtype must be float32, int64 or int32`);
  if (!Array.isArray(t.shape) || !Array.isArray(t.data)) throw new UsageError(`input ${name}: needs shape and data arrays`);
  const data = t.data as (number | string)[];
  const typed =
    dtype === 'int64'
      ? BigInt64Array.from(data, (v) => BigInt(v))
      : dtype === 'int32'
        ? Int32Array.from(data, Number)
        : Float32Array.from(data, Number);
  return { dtype, shape: t.shape as number[], data: typed };
}

async function runModel(args: Args, io: CliIo): Promise<number> {
  const inputsPath = flag(args, 'inputs');
  if (!inputsPath) throw new UsageError('run needs --inputs FILE.json');
  const doc = JSON.parse(readFileSync(inputsPath, 'utf8')) as Record<string, unknown>;
  const inputs = Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, toTensor(k, v)]));
  const p = await loadFor(args);
  try {
    const out = await p.run(inputs);
    const printable = Object.fromEntries(
      Object.entries(out).map(([k, t]) => [
        k,
        { dtype: t.dtype, shape: t.shape, data: Array.from(t.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v.toString() : v)) },
      ]),
    );
    io.out(JSON.stringify(printable));
  } finally {
    p.dispose();
  }
  return 0;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    const args = parseArgs(argv);
    switch (args.command) {
      case 'sign':
        return signModel(args, io);
      case 'verify':
        return await verifyModel(args, io);
      case 'inspect':
        return await inspectModel(args, io);
      case 'run':
        return await runModel(args, io);
      default:
        throw new UsageError(`unknown command ${args.command}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`paddle-model: ${err.message}\n${USAGE}`);
      return 2;
    }
    const code = err instanceof PaddleError ? ` [${err.code}]` : '';
    io.err(`paddle-model: ${err instanceof Error ? `${err.name}${code}: ${err.message}` : String(err)}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l) });
}
