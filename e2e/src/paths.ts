// Where the e2e cluster keeps its state and where the pinned binaries are cached.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const E2E_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(E2E_DIR, '..');
export const CLUSTER_DIR = process.env.E2E_CLUSTER_DIR ?? join(E2E_DIR, '.cluster');

/** Parses a KEY=VALUE file (comments and blank lines ignored). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`not a KEY=VALUE line: ${JSON.stringify(raw)}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** The pinned versions from e2e/tools/versions.env. */
export function pinnedVersions(): Record<string, string> {
  return parseEnvFile(readFileSync(join(E2E_DIR, 'tools', 'versions.env'), 'utf8'));
}

/** The kubeconfig of the cluster under test: $KUBECONFIG, else e2e/.cluster/kubeconfig. */
export function kubeconfigPath(): string {
  const fromEnv = process.env.KUBECONFIG;
  if (fromEnv) return fromEnv;
  const local = join(CLUSTER_DIR, 'kubeconfig');
  if (!existsSync(local)) {
    throw new Error(`no kubeconfig: KUBECONFIG is not set and ${local} does not exist (run make cluster-up)`);
  }
  return local;
}

/** The kubectl binary: $KUBECTL, else the cached build for the pinned Kubernetes version. */
export function kubectlPath(): string {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  const cache = process.env.PADDLE_OPERATOR_CACHE ?? join(homedir(), '.cache', 'paddle-operator');
  const version = pinnedVersions().KUBERNETES_VERSION;
  if (!version) throw new Error('KUBERNETES_VERSION missing from e2e/tools/versions.env');
  const path = join(cache, 'bin', `kubernetes-${version}`, 'kubectl');
  if (!existsSync(path)) throw new Error(`kubectl not found at ${path} (run make cluster-up, which builds it)`);
  return path;
}
