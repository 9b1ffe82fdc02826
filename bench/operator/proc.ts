// Helpers the operator benchmarks share: process CPU and memory from /proc, the local control
// plane's processes and their flags, a bounded-concurrency pool, and the wait for an earlier
// run's namespaces to go.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_DIR, kubectl, type Clients } from '../../e2e/src/index.js';

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
 * and a run that overlaps them measures that too. Says how long it waited when it did.
 */
export async function waitForEarlierRuns(clients: Clients, prefix = 'bench-op-'): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const left = (await clients.core.listNamespace()).items.filter((n) => n.metadata?.name?.startsWith(prefix));
    if (left.length === 0) {
      const waitedS = (performance.now() - t0) / 1000;
      if (waitedS > 1) console.log(`(waited ${waitedS.toFixed(0)} s for the namespace of an earlier run to be deleted)`);
      return;
    }
    if (performance.now() - t0 > 900_000) throw new Error(`namespaces of an earlier run still exist after 900 s: ${left.map((n) => n.metadata?.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/** Each component's settings that bound its pace, from its command line (defaults named as such). */
export function componentConfig(workers = 4): string[] {
  const pids = clusterPids();
  const flag = (name: string, f: string, dflt: string) => {
    const v = pids[name] ? processFlag(pids[name], f) : undefined;
    return `${f} ${v ?? `${dflt} (default)`}`;
  };
  return [
    `kube-controller-manager: ${flag('kube-controller-manager', '--kube-api-qps', '20')}, ${flag('kube-controller-manager', '--kube-api-burst', '30')} (a client per controller: Deployment, ReplicaSet, EndpointSlice... each that fast), ${flag('kube-controller-manager', '--concurrent-deployment-syncs', '5')}, ${flag('kube-controller-manager', '--concurrent-replicaset-syncs', '5')}`,
    `kube-scheduler: ${flag('kube-scheduler', '--kube-api-qps', '50')}, ${flag('kube-scheduler', '--kube-api-burst', '100')}`,
    `cert-manager: QPS 50, burst 100 (e2e/tools/cert-manager/main.go), workers per controller: ${flag('cert-manager', '--workers', '2')}, ECDSA P-256 keys (the operator's Certificate)`,
    `kwok: no client-side limit (kwok's clients use no rate limiter), the "fast" pod and node stages (no delay)`,
    `operator: ${workers} workers (--workers), no client-side QPS limit, at most 32 connections to the API server`,
  ];
}

/** One series of the API server's /metrics summed by verb and resource[/subresource] ("PATCH paddleservices/status"). */
function byVerbAndResource(text: string, series: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${series}{`)) continue;
    const label = (k: string) => new RegExp(`[{,]${k}="([^"]*)"`).exec(line)?.[1] ?? '';
    const key = `${label('verb')} ${label('resource')}${label('subresource') ? `/${label('subresource')}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** The API server's request counters: `apiserver_request_total` summed by verb and resource[/subresource]. */
export async function apiServerRequests(): Promise<Map<string, number>> {
  return byVerbAndResource((await kubectl(['get', '--raw', '/metrics'])).stdout, 'apiserver_request_total');
}

/** Request counts and the seconds the API server spent serving them (`apiserver_request_duration_seconds_sum`), by verb and resource. */
export async function apiServerCounters(): Promise<{ requests: Map<string, number>; seconds: Map<string, number> }> {
  const text = (await kubectl(['get', '--raw', '/metrics'])).stdout;
  return { requests: byVerbAndResource(text, 'apiserver_request_total'), seconds: byVerbAndResource(text, 'apiserver_request_duration_seconds_sum') };
}

/**
 * Which component of the bench's cluster makes a kind of write ("VERB resource[/sub]"), from
 * what each one writes: the operator applies the children and patches PaddleService status (the
 * pods' reports patch it too: split by count where both are known), cert-manager the Certificate
 * status, CertificateRequests and Secrets, the controller-manager ReplicaSets, pods,
 * Deployment/ReplicaSet/PDB status and endpoints, the scheduler pod bindings, kwok pod and node
 * status and leases. The ClusterIP's IPAddress is the API server's own work for the Service the
 * operator applies. Events are everyone's (counted apart, by their source).
 */
export function writerOf(key: string): string {
  const [verb = '', resource = ''] = key.split(' ');
  if (resource === 'events') return 'events (all components)';
  if (verb === 'APPLY' && ['deployments', 'services', 'configmaps', 'serviceaccounts', 'roles', 'rolebindings', 'poddisruptionbudgets', 'certificates'].includes(resource)) return 'operator';
  if (resource === 'ipaddresses') return 'operator (Service ClusterIP, API server)';
  if (resource === 'paddleservices/status') return 'PaddleService status (operator + pod reports)';
  if (resource === 'paddleservices') return 'user (the creates)';
  if (resource.startsWith('certificates') || resource.startsWith('certificaterequests') || resource === 'secrets') return 'cert-manager';
  if (resource === 'pods/binding') return 'kube-scheduler';
  if (resource === 'pods/status' || resource === 'nodes/status') return 'kwok';
  if (resource === 'leases') return 'leases (leader elections, kwok node heartbeats)';
  if (['replicasets', 'replicasets/status', 'deployments/status', 'pods', 'poddisruptionbudgets/status', 'endpoints', 'endpointslices'].includes(resource)) return 'kube-controller-manager';
  return 'other';
}

/**
 * The writes between two readings of apiServerCounters, by the component that made them:
 * [component, writes, server seconds], most seconds first. PATCH paddleservices/status is split
 * between the operator and the pod reports by `reports` (the count of reports sent).
 */
export function writesByComponent(
  before: { requests: Map<string, number>; seconds: Map<string, number> },
  after: { requests: Map<string, number>; seconds: Map<string, number> },
  reports = 0,
): Array<[string, number, number]> {
  const acc = new Map<string, [number, number]>();
  const add = (who: string, n: number, s: number) => {
    const a = acc.get(who) ?? [0, 0];
    acc.set(who, [a[0] + n, a[1] + s]);
  };
  for (const [key, n] of apiServerWrites(before.requests, after.requests)) {
    const s = (after.seconds.get(key) ?? 0) - (before.seconds.get(key) ?? 0);
    const who = writerOf(key);
    if (who.startsWith('PaddleService status') && n > 0) {
      const fromReports = Math.min(n, reports);
      add('pod reports (sidecars; here the bench)', fromReports, (s * fromReports) / n);
      add('operator', n - fromReports, (s * (n - fromReports)) / n);
    } else if (who.startsWith('operator')) add('operator', n, s);
    else add(who, n, s);
  }
  return [...acc.entries()].map(([k, [n, s]]): [string, number, number] => [k, n, s]).sort((a, b) => b[2] - a[2]);
}

/** The writes (not GET/LIST/WATCH) the API server served between two readings, by verb and resource, most first. */
export function apiServerWrites(before: Map<string, number>, after: Map<string, number>): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [k, v] of after) {
    if (/^(GET|LIST|WATCH|CONNECT) /.test(k)) continue;
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.push([k, d]);
  }
  return out.sort((a, b) => b[1] - a[1]);
}
