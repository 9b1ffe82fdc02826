// Runs the pinned kubectl against the e2e cluster.
import { spawn } from 'node:child_process';
import { kubeconfigPath, kubectlPath } from './paths.js';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  /** Text written to kubectl's stdin (for `-f -`). */
  input?: string;
  /** Resolve with a non-zero exit code instead of rejecting. */
  allowFailure?: boolean;
  /** Kill kubectl after this long (default 120 s: a bound on a hang). */
  timeoutMs?: number;
}

/** kubectl commands that are safe to run again after a transient failure (they set state or read it). */
const IDEMPOTENT = new Set(['get', 'apply', 'wait', 'explain', 'scale', 'patch', 'label', 'annotate', 'describe', 'version', 'api-resources']);

/** Global flags given before the command whose value is the next argument. */
const FLAGS_WITH_VALUE = new Set(['-n', '--namespace', '--context', '--kubeconfig', '--request-timeout']);

/** What kubectl prints when the API server was starved or restarting (client-go retries some of these itself, not all). */
const TRANSIENT = /etcdserver: request timed out|the server is currently unable to handle the request|the server was unable to return a response|Too many requests|TLS handshake timeout|i\/o timeout|connection refused|connection reset by peer|http2: client connection lost|unexpected EOF|context deadline exceeded/i;

/** Whether a failed kubectl run is worth repeating: an idempotent command that failed for a transient reason. */
export function isTransientKubectlFailure(args: string[], result: KubectlResult): boolean {
  let verb: string | undefined;
  for (let i = 0; i < args.length && verb === undefined; i++) {
    const a = args[i] ?? '';
    if (FLAGS_WITH_VALUE.has(a)) i++;
    else if (!a.startsWith('-')) verb = a;
  }
  return result.code !== 0 && verb !== undefined && IDEMPOTENT.has(verb) && TRANSIENT.test(result.stderr);
}

/**
 * Runs `kubectl --kubeconfig <e2e kubeconfig> ...args`. Rejects on a non-zero exit unless
 * allowFailure. An idempotent command that failed for a transient reason (a starved or
 * restarting API server) is run again, for up to two minutes.
 */
export async function kubectl(args: string[], options: KubectlOptions = {}): Promise<KubectlResult> {
  const deadline = Date.now() + 120_000;
  let delay = 500;
  for (;;) {
    const result = await runKubectl(args, options);
    if (!isTransientKubectlFailure(args, result) || Date.now() + delay > deadline) {
      if (result.code !== 0 && !options.allowFailure) {
        throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
      }
      return result;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 5_000);
  }
}

function runKubectl(args: string[], options: KubectlOptions): Promise<KubectlResult> {
  const bin = kubectlPath();
  const fullArgs = ['--kubeconfig', kubeconfigPath(), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, fullArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${bin}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr: signal ? `${stderr}(killed by ${signal})` : stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
