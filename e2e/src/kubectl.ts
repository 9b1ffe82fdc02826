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
  /** Kill kubectl after this long (default 60 s). */
  timeoutMs?: number;
}

/** Runs `kubectl --kubeconfig <e2e kubeconfig> ...args`. Rejects on a non-zero exit unless allowFailure. */
export function kubectl(args: string[], options: KubectlOptions = {}): Promise<KubectlResult> {
  const bin = kubectlPath();
  const fullArgs = ['--kubeconfig', kubeconfigPath(), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, fullArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${bin}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, stdout, stderr };
      if (result.code !== 0 && !options.allowFailure) {
        reject(new Error(`kubectl ${args.join(' ')} exited ${code ?? signal}: ${stderr.trim() || stdout.trim()}`));
      } else {
        resolve(result);
      }
    });
    child.stdin.end(options.input ?? '');
  });
}
