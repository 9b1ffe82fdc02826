// A real S3 server for the tests: e2e/tools/s3server (rclone/gofakes3, SigV4 authentication on,
// in-memory buckets) built from the Go module proxy by its build.sh (cached, once per source
// hash) and started on a loopback port the OS picks. Each call gets its own process, its own
// random credentials and its own buckets.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';
import { waitFor } from './wait-for.js';

export interface S3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Path of the built server (builds it when missing). */
export function s3ServerBinary(): string {
  const out = execFileSync(join(REPO_ROOT, 'e2e/tools/s3server/build.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop() ?? '';
}

export async function startS3Server(buckets: string[]): Promise<S3Server> {
  const accessKeyId = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(24).toString('base64url');
  const child = spawn(s3ServerBinary(), ['-listen', '127.0.0.1:0', '-bucket', buckets.join(',')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let endpoint = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
    const m = /\{"endpoint":"([^"]+)"\}/.exec(output);
    if (m && !endpoint) endpoint = m[1] ?? '';
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  await waitFor(() => ({ done: endpoint !== '' || gone(), seen: output }), 120_000, 'the S3 server to listen', { intervalMs: 50 });
  if (!endpoint) throw new Error(`the S3 server exited: ${output}`);
  return {
    endpoint,
    region: 'us-east-1',
    accessKeyId,
    secretAccessKey,
    child,
    output: () => output,
    stop: async () => {
      if (gone()) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
