// paddle-model: the model owner's tool, from an exported model to what the cluster serves.
// Each subcommand lives in its own module; this file is the usage text and the dispatch.
// Exit status: 0 ok, 1 model refused or an operation failed, 2 usage error.

import { pathToFileURL } from 'node:url';
import { PaddleError } from '../index.js';
import { UsageError, parseArgs, type CliIo } from './args.js';
import { fetchCommand } from './fetch.js';
import { inspectModel, runModel } from './inspect.js';
import { ALGORITHMS, ModelRefusedError } from './manifest.js';
import { packCommand, pushCommand } from './publish.js';
import { KEY_TYPES, keygen, signModel, verifyModel } from './signing.js';
import { StoreError } from './store.js';
import { tokenCommand } from './token.js';

export type { CliIo } from './args.js';

const S3 = '--s3-bucket B [--s3-endpoint URL] [--s3-prefix P] [--s3-region R] [--credentials-dir D]';
const HTTPS = '--url https://HOST/DIR [--headers-file F] [--ca-file F]';

export const USAGE = `usage: paddle-model COMMAND [flags]

  keygen --out PREFIX [--type ${KEY_TYPES.join('|')}]
      new signing key pair: PREFIX.key.pem (private, 0600) and PREFIX.pub.pem
      (openssl equivalent: openssl genpkey -algorithm ed25519 -out PREFIX.key.pem &&
       openssl pkey -in PREFIX.key.pem -pubout -out PREFIX.pub.pem)
  sign --key PRIV.pem [--algorithm ${ALGORITHMS.join('|')}] [--key-id ID] DIR
      write DIR/signature.json (SHA-256 of every model file, signed)
  verify --key PUB.pem DIR
      load DIR as the sidecar does: digests, signature, program and parameters
  inspect (--key PUB.pem | --unsigned) DIR
      inputs, outputs, op counts and backend coverage, as JSON
  run (--key PUB.pem | --unsigned) --inputs FILE.json DIR
      one inference; inputs as {"name": {"dtype", "shape", "data"}}
  push ${S3} [--key PUB.pem] DIR
      upload a signed model directory to S3 (credentials also from AWS_ACCESS_KEY_ID /
      AWS_SECRET_ACCESS_KEY)
  fetch (${S3} | ${HTTPS})
        (--key PUB.pem | --unsigned) --dest DIR [--max-bytes N] [--retries N] [--backoff-ms N]
        [--termination-log FILE]
      download, check every file against the signed manifest, then install into DIR
      (the model pod's init container)
  pack --output LAYOUT [--ref NAME] [--key PUB.pem] DIR
      a signed model directory as an OCI image layout for the image-volume source
  token --hmac-key FILE --scope "DOMAIN ..." [--issuer ISS] [--audience AUD] [--subject SUB] [--ttl S]
      an HS256 token the sidecar accepts (key: the auth Secret's hmac.key, >= 32 bytes)

Exit status: 0 ok, 1 model refused or operation failed, 2 usage error.`;

const SWITCHES = ['unsigned'];

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return 0;
  }
  try {
    if (!command) throw new UsageError('missing command');
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(USAGE);
      return 0;
    }
    const args = parseArgs(command, rest, SWITCHES);
    switch (command) {
      case 'keygen':
        return keygen(args, io);
      case 'sign':
        return signModel(args, io);
      case 'verify':
        return await verifyModel(args, io);
      case 'inspect':
        return await inspectModel(args, io);
      case 'run':
        return await runModel(args, io);
      case 'push':
        return await pushCommand(args, io);
      case 'fetch':
        return await fetchCommand(args, io);
      case 'pack':
        return packCommand(args, io);
      case 'token':
        return await tokenCommand(args, io);
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`paddle-model: ${err.message}\n${USAGE}`);
      return 2;
    }
    const code = err instanceof PaddleError ? ` [${err.code}]` : '';
    const name = err instanceof ModelRefusedError || err instanceof StoreError ? '' : `${(err as Error).name}${code}: `;
    io.err(`paddle-model: ${err instanceof Error ? `${name}${err.message}` : String(err)}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l) });
}
