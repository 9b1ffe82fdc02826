// Helpers for the operator's e2e suites (e2e/test/operator-*.e2e.ts): run the real operator as
// a child process against the local control plane, read its /metrics, load examples adapted
// to the e2e cluster, write synthetic pod reports the way the sidecar does (merge patch on the
// status subresource), and restart kube-apiserver.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { load } from 'js-yaml';
import type { PaddleService, PodReport } from '../../../crds/src/index.js';
import { CLUSTER_DIR, REPO_ROOT, kubeconfigPath, retryTransient, waitFor, type Clients } from '../../../e2e/src/index.js';

export const E2E_ISSUER = { name: 'paddle-e2e-ca', kind: 'ClusterIssuer' as const, group: 'cert-manager.io' };

/**
 * spec.auth for suites that send no tokens: auth off, but default-deny still wants a policy for
 * every protected route; OIP inference gets `inferPerMinute` so a suite's traffic is not 429'd.
 */
export function authOffPolicies(inferPerMinute: number): NonNullable<PaddleService['spec']['auth']> {
  return {
    enabled: false,
    policies: [
      { path: '/v2/models/{model}/infer', domain: 'model_inference', callsPerMinute: inferPerMinute },
      { path: '/v1/predict', domain: 'model_inference', callsPerMinute: 60 },
      { path: '/v1/encrypt_input', domain: 'data_protection', callsPerMinute: 20 },
      { path: '/v1/export_model', domain: 'model_admin', callsPerMinute: 5 },
    ],
  };
}

export interface OperatorProcess {
  child: ChildProcess;
  port: number;
  identity: string;
  logs: string[];
  metrics(): Promise<string>;
  /** Sum of a counter/gauge over the series matching every given label. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartOptions {
  identity: string;
  leaseName: string;
  leaseNamespace?: string;
  extraArgs?: string[];
  /** Run the built operator as the image does (the bundle dist/operator/main.js, from `make build-ts`) instead of tsx. */
  compiled?: boolean;
  /** Extra node flags (e.g. --max-old-space-size). */
  nodeArgs?: string[];
}

/**
 * Bounds on waits that depend on the operator process, kube-apiserver, kube-controller-manager,
 * kwok or cert-manager: each bounds a hang (a CPU-starved 2-core machine is slow, not stuck),
 * none is an expected duration. The suites' mocha timeouts are set above the sum of their waits.
 */
export const STARTUP_TIMEOUT_MS = 180_000;
export const CONVERGE_TIMEOUT_MS = 180_000;

/** Starts `operator/src/main.ts` with tsx; resolves once its ops server listens. */
export async function startOperator(opts: StartOptions): Promise<OperatorProcess> {
  const entry = opts.compiled ? [join(REPO_ROOT, 'dist/operator/main.js')] : ['--import', 'tsx', join(REPO_ROOT, 'operator/src/main.ts')];
  const args = [
    ...(opts.nodeArgs ?? []),
    ...entry,
    '--kubeconfig',
    kubeconfigPath(),
    '--ops-port',
    '0',
    '--identity',
    opts.identity,
    '--lease-name',
    opts.leaseName,
    '--lease-namespace',
    opts.leaseNamespace ?? 'default',
    // Generous for a loaded machine: a leader starved of CPU for a few seconds keeps its lease
    // (renewals are due every 2 s; it steps down after 10 s without one).
    '--lease-duration-seconds',
    '15',
    '--renew-deadline-seconds',
    '10',
    '--retry-period-seconds',
    '2',
    '--resync-seconds',
    '30',
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  let port = 0;
  const onLine = (line: string) => {
    if (!line) return;
    logs.push(line);
    if (logs.length > 2000) logs.shift();
    if (process.env.E2E_OPERATOR_LOGS) console.error(`[${opts.identity}] ${line}`);
    try {
      const rec = JSON.parse(line) as { msg?: string; port?: number };
      if (rec.msg?.startsWith('ops server listening') && rec.port) port = rec.port;
    } catch {
      // not JSON (stderr text)
    }
  };
  let buf = '';
  const feed = (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  };
  child.stdout?.on('data', feed);
  child.stderr?.on('data', feed);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  try {
    // tsx compiles the operator's sources first: on a loaded machine that alone can take a minute.
    await waitFor(() => ({ done: port > 0 || child.exitCode !== null, seen: logs.slice(-5) }), STARTUP_TIMEOUT_MS, `operator ${opts.identity} to listen`);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  if (child.exitCode !== null) throw new Error(`operator ${opts.identity} exited with ${child.exitCode}: ${logs.slice(-10).join('\n')}`);

  const base = `http://127.0.0.1:${port}`;
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  return {
    child,
    port,
    identity: opts.identity,
    logs,
    metrics,
    metric: async (name, labels = {}) => sumMetric(await metrics(), name, labels),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until `op` holds its leader lease (paddle_operator_leader 1). */
export async function waitUntilLeading(op: OperatorProcess, timeoutMs = STARTUP_TIMEOUT_MS): Promise<void> {
  await waitFor(async () => {
    if (op.child.exitCode !== null) throw new Error(`operator ${op.identity} exited with ${op.child.exitCode}: ${op.logs.slice(-10).join('\n')}`);
    return { done: (await op.metric('paddle_operator_leader')) === 1, seen: op.logs.slice(-3) };
  }, timeoutMs, `operator ${op.identity} to lead`);
}

/**
 * Waits until the operator is idle in one scrape: no key queued, no reconcile running, no API
 * request in flight (the Events a reconcile records are written in the background and count as
 * requests in flight). Everything a reconcile that started before this call decided has then
 * reached the API server: a test that compares objects from here sees only later writes.
 */
export async function waitUntilIdle(op: OperatorProcess, timeoutMs = CONVERGE_TIMEOUT_MS): Promise<void> {
  await waitFor(async () => {
    const text = await op.metrics();
    const busy = {
      queued: sumMetric(text, 'paddle_operator_workqueue_depth', {}),
      reconciling: sumMetric(text, 'paddle_operator_active_reconciles', {}),
      inFlight: sumMetric(text, 'paddle_operator_api_requests_in_flight', {}),
    };
    return { done: busy.queued === 0 && busy.reconciling === 0 && busy.inFlight === 0, seen: busy };
  }, timeoutMs, `operator ${op.identity} to be idle`, { intervalMs: 100 });
}

/** Sums the samples of `name` whose labels include `labels`, from Prometheus text. */
export function sumMetric(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(pair[1] ?? '', pair[2] ?? '');
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

/** An example PaddleService adapted to the e2e cluster (issuer, no node-pool selector). */
export function e2eExample(file: string, name: string, mutate: (ps: PaddleService) => void = () => undefined): PaddleService {
  const ps = load(readFileSync(join(REPO_ROOT, 'examples', file), 'utf8')) as PaddleService;
  ps.metadata = { name };
  if (ps.spec.tls?.enabled !== false) ps.spec.tls = { ...ps.spec.tls, issuerRef: E2E_ISSUER };
  if (ps.spec.resources?.nodeSelector) delete ps.spec.resources.nodeSelector['node-pool'];
  if (ps.spec.resources?.affinity) delete ps.spec.resources.affinity;
  // No PersistentVolumes here: a PVC source would keep the pods Pending. kwok mounts nothing,
  // so a ConfigMap source schedules and runs.
  if (ps.spec.model.source.pvc) ps.spec.model.source = { configMap: { name: `${name}-model` } };
  mutate(ps);
  return ps;
}

export async function createSigningKeySecret(clients: Clients, namespace: string, name = 'model-signing-key'): Promise<void> {
  await retryTransient(`create Secret ${namespace}/${name}`, () => clients.core.createNamespacedSecret({
    namespace,
    body: { metadata: { name }, stringData: { 'public.pem': '-----BEGIN PUBLIC KEY-----\n(e2e placeholder: no sidecar verifies it)\n-----END PUBLIC KEY-----\n' } },
  }), { onConflictAfterRetry: () => clients.core.readNamespacedSecret({ namespace, name }) });
}

export async function getPaddleService(clients: Clients, namespace: string, name: string): Promise<PaddleService> {
  return (await clients.custom.getNamespacedCustomObject({ group: 'serving.paddle.io', version: 'v1alpha1', namespace, plural: 'paddleservices', name })) as PaddleService;
}

export async function createPaddleService(clients: Clients, namespace: string, ps: PaddleService): Promise<PaddleService> {
  const name = ps.metadata.name ?? '';
  return retryTransient(`create PaddleService ${namespace}/${name}`, async () => (await clients.custom.createNamespacedCustomObject({
    group: 'serving.paddle.io',
    version: 'v1alpha1',
    namespace,
    plural: 'paddleservices',
    body: { ...ps, apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService' },
  })) as PaddleService, { onConflictAfterRetry: () => getPaddleService(clients, namespace, name) });
}

/** A merge patch, as kubectl patch --type merge does (spec edits by a user). */
export async function mergePatchPaddleService(clients: Clients, namespace: string, name: string, patch: object, subresource?: 'status'): Promise<void> {
  const { setHeaderOptions } = await import('@kubernetes/client-node');
  const params = { group: 'serving.paddle.io', version: 'v1alpha1', namespace, plural: 'paddleservices', name, body: patch };
  const opts = setHeaderOptions('Content-Type', 'application/merge-patch+json');
  // A merge patch sets fields to values: applying it twice is applying it once, so a retry is safe.
  await retryTransient(`merge patch PaddleService ${namespace}/${name}${subresource ? '/status' : ''}`, async () => {
    if (subresource === 'status') await clients.custom.patchNamespacedCustomObjectStatus(params, opts);
    else await clients.custom.patchNamespacedCustomObject(params, opts);
  });
}

/** A pod report as the sidecar writes it. */
export function syntheticReport(over: Partial<PodReport> = {}): PodReport {
  return {
    reportedAt: new Date().toISOString(),
    ready: true,
    selfCheckPassed: true,
    model: { digest: 'sha256:e2e0', keyId: 'e2e-key', algorithm: 'Ed25519', verified: true, verifiedAt: new Date().toISOString(), backend: 'builtin', backendVersion: '1' },
    device: 'gpu',
    mode: 'normal',
    latency: { p50Ms: 8, p95Ms: 12, p99Ms: 20, baselineP95Ms: 11, samples: 200 },
    requests: { total: 200, errors: 0 },
    matrix: { gpuMemoryBucketMB: 1024, latencyBucketMs: 5, seqLenEdges: [128, 256, 512, 1024, 2048, 4096], total: 200, cells: [{ s: 1, d: 2, l: 0, count: 200 }] },
    opProfile: [
      { op: 'matmul', totalMs: 900 },
      { op: 'softmax', totalMs: 120 },
    ],
    breaker: { state: 'closed', trips: 0 },
    gpu: { memoryUsedBytes: 20 * 2 ** 30, memoryTotalBytes: 80 * 2 ** 30 },
    ...over,
  };
}

/** Writes a report for every current pod of the service (status merge patch, like the sidecar). */
export async function reportFromAllPods(clients: Clients, namespace: string, name: string, over: Partial<PodReport> = {}): Promise<string[]> {
  const pods = (await clients.core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${name}` })).items.filter((p) => !p.metadata?.deletionTimestamp);
  const names = pods.map((p) => p.metadata?.name ?? '');
  // Each report names its pod's template, as the sidecar does from the downward API.
  const reports = Object.fromEntries(
    pods.map((p) => {
      const templateHash = p.metadata?.labels?.['serving.paddle.io/template-hash'];
      return [p.metadata?.name ?? '', syntheticReport({ ...(templateHash ? { templateHash } : {}), ...over })];
    }),
  );
  await mergePatchPaddleService(clients, namespace, name, { status: { podReports: reports } }, 'status');
  return names;
}

// ---- kube-apiserver restart (the cluster scripts start it as its own session leader) -------

function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return fields[19] ?? '';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops kube-apiserver, keeps it down for `downMs`, and starts it again with the same command
 * line, recording the new PID in the cluster's pid file (same "pid starttime" format) so
 * `make cluster-down` still stops it.
 */
export async function restartApiServer(downMs: number): Promise<void> {
  const pidFile = join(CLUSTER_DIR, 'pids', 'kube-apiserver.pid');
  const [pidText] = readFileSync(pidFile, 'utf8').trim().split(/\s+/);
  const pid = Number(pidText);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  const [bin, ...args] = argv;
  if (!bin) throw new Error('kube-apiserver command line not readable');
  process.kill(-pid, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) {
    process.kill(-pid, 'SIGKILL');
    // The new server binds the same port: wait until the old one is gone, however slow its exit.
    await waitFor(() => !alive(pid), 60_000, `kube-apiserver ${pid} to exit after SIGKILL`);
  }
  await sleep(downMs); // the outage the test asks for, not a wait for a state
  const log = openSync(join(CLUSTER_DIR, 'logs', 'kube-apiserver.log'), 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const newPid = child.pid;
  if (!newPid) throw new Error('kube-apiserver did not start');
  writeFileSync(pidFile, `${newPid} ${startTime(newPid)}\n`);
}
