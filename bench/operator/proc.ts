// Helpers the operator benchmarks share: process CPU and memory from /proc, the local control
// plane's processes and their flags, a bounded-concurrency pool, and the wait for an earlier
// run's namespaces to go.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_DIR, type Clients } from '../../e2e/src/index.js';

export const CLUSTER_PROCESSES = ['kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'cert-manager'] as const;

export function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat (clock ticks, 100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The local control plane's processes (e2e/.cluster/pids/<name>.pid: "pid starttime"). */
export function clusterPids(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of CLUSTER_PROCESSES) {
    const f = join(CLUSTER_DIR, 'pids', `${name}.pid`);
    if (existsSync(f)) out[name] = Number(readFileSync(f, 'utf8').trim().split(/\s+/)[0]);
  }
  return out;
}

/** The value of `--flag value` or `--flag=value` on a process's command line; undefined when not given. */
export function processFlag(pid: number, flag: string): string | undefined {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === flag) return argv[i + 1];
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
  }
  return undefined;
}

/** CPU seconds of each process since `from` (a snapshot of cpuSeconds). */
export function cpuSince(pids: Record<string, number>, from: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) - (from[k] ?? 0)]));
}

export function cpuSnapshot(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
}

export async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await fn(item);
      }
    }),
  );
}

/**
 * Waits until no namespace of an earlier run is still being deleted: the namespace controller
 * and the garbage collector deleting thousands of objects load the same API server and etcd,
 * and a run that overlaps them measures that too. Returns the seconds waited.
 */
export async function waitForEarlierRuns(clients: Clients, prefix = 'bench-op-'): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const left = (await clients.core.listNamespace()).items.filter((n) => n.metadata?.name?.startsWith(prefix));
    if (left.length === 0) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 900_000) throw new Error(`namespaces of an earlier run still exist after 900 s: ${left.map((n) => n.metadata?.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}
