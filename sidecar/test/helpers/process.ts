// The real sidecar process (sidecar/src/main.ts under tsx) for the process-level tests, and the
// ports it reports in its "serving" log line.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const MAIN = join(ROOT, 'sidecar/src/main.ts');

export interface SidecarProcess {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

export function runSidecar(args: string[], env: Record<string, string> = {}): SidecarProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...process.env, POD_NAME: '', POD_NAMESPACE: '', PADDLESERVICE_NAME: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out, exited };
}

export interface ServingPorts {
  port: number;
  metricsPort: number;
  healthPort: number;
}

/** The ports from the process's "serving" log line (fails when the process exits first). */
export async function servingPorts(p: SidecarProcess, timeoutMs = 180_000): Promise<ServingPorts> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && p.child.exitCode === null) {
    for (const line of p.out.stdout.split('\n')) {
      if (!line.includes('"message":"serving"')) continue;
      const rec = JSON.parse(line) as { port?: number; metricsPort?: number; healthPort?: number };
      return { port: rec.port ?? 0, metricsPort: rec.metricsPort ?? 0, healthPort: rec.healthPort ?? 0 };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no serving line:\n${p.out.stdout}\n${p.out.stderr}`);
}
