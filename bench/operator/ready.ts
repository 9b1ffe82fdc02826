// Time to Ready: what a user waits for. N PaddleServices as a user writes them (1 replica,
// TLS from the cluster's cert-manager CA ClusterIssuer) are created at once; their pods run on
// a kwok node (kwok marks them Running and Ready, no containers run), and the bench plays each
// pod's sidecar: when kwok marks a pod Ready it sends the pod's first report (the sidecar's own
// buildPodReport and PodReportPatcher, a merge patch of status.podReports.<pod> over its own
// keep-alive connection) and then one every reportIntervalSeconds, as the sidecar does. Model
// verification is off (no sidecar verifies).
//
// Per PaddleService it records when each step was first seen through its own watches:
//   created (the create call returned), Deployment (the operator applied it), ReplicaSet and
//   pod created (the controller-manager), scheduled (kube-scheduler), pod Running and Ready
//   (kwok), Deployment available (the controller-manager), Certificate Ready (cert-manager),
//   first report (the bench, for the sidecar), Available and Ready=True (the operator),
// and prints for each step when half and all of the PaddleServices had reached it, the time
// each component took per PaddleService, the path of the last PaddleService to become Ready
// (where its seconds went, step by step), which input came last before Ready, the API server's
// writes and the seconds it spent serving them by the component that made them, and the
// configuration of each component (its flags, read from its command line).
//
// Usage: npx tsx bench/operator/ready.ts [N]   (default 1000; needs the local control plane).
// BENCH_READY_TIMEOUT_S (600): the wait for all Ready; BENCH_READY_REPORT_INTERVAL_S (15): the
// pods' report interval; BENCH_READY_REPORT_HEARTBEAT_S (60): the longest a pod goes without
// writing an unchanged report (spec.observability.reportHeartbeatSeconds; set it to the interval
// for a write every interval, as before 2026-12-07); BENCH_OPERATOR_WORKERS (4): the operator's
// --workers.

import { loadavg } from 'node:os';
import { type CoreV1Event, type KubernetesObject, type V1Deployment, type V1Pod, type V1ReplicaSet } from '@kubernetes/client-node';
import type { PaddleService, PodReport } from '../../crds/src/index.js';
import { applyObject, createTestNamespace, deleteTestNamespace, makeClients, waitFor, type Clients } from '../../e2e/src/index.js';
import { E2E_ISSUER, startOperator, sumMetric, type OperatorProcess } from '../../operator/test/e2e/harness.js';
import { buildPodReport, PodReporter, PodReportPatcher } from '../../sidecar/src/pod-report.js';
import { apiServerCounters, apiServerWrites, clusterPids, componentConfig, cpuSince, cpuSnapshot, pool, rssMb, waitForEarlierRuns, writesByComponent } from './proc.js';
import { benchClient, certificates, deployments, NamespaceWatch, paddleServices, pods, replicaSets } from './watch.js';

const TARGET_READY_S = 60;
const TARGET_RSS_MB = 200;
/** How long to wait for every PaddleService to be Ready; the figures print either way. */
const TIMEOUT_S = Number(process.env.BENCH_READY_TIMEOUT_S ?? 600);
/** status.podReports cadence of each pod (spec.observability.reportIntervalSeconds; the CRD's default). */
const REPORT_INTERVAL_S = Number(process.env.BENCH_READY_REPORT_INTERVAL_S ?? 15);
/** spec.observability.reportHeartbeatSeconds (the CRD's default): an unchanged report waits for it. */
const REPORT_HEARTBEAT_S = Number(process.env.BENCH_READY_REPORT_HEARTBEAT_S ?? 60);
/** Reports in flight at once at most (1000 real sidecars would each have one; 1000 / 15 s needs ~67/s). */
const MAX_IN_FLIGHT = 256;
const NODE_ARGS = (process.env.BENCH_OPERATOR_NODE_ARGS ?? '--max-old-space-size=128 --max-semi-space-size=8').split(' ').filter(Boolean);
const MALLOC_ARENA_MAX = process.env.MALLOC_ARENA_MAX ?? '2';
/** The operator's --workers (its default, 4, unless BENCH_OPERATOR_WORKERS says otherwise). */
const WORKERS = Number(process.env.BENCH_OPERATOR_WORKERS ?? 4);
const TEMPLATE_LABEL = 'serving.paddle.io/template-hash';
const INSTANCE_LABEL = 'app.kubernetes.io/instance';
/** A kwok node only the bench's pods go to (tainted, so nothing else lands there); kept for later runs. */
const BENCH_NODE = 'bench-kwok-ready';
const BENCH_TAINT = 'serving.paddle.io/bench';

const STAGES = [
  ['created', 'create call returned'],
  ['deployment', 'Deployment exists (operator)'],
  ['replicaSet', 'ReplicaSet created (controller-manager)'],
  ['podCreated', 'pod created (controller-manager)'],
  ['scheduled', 'pod scheduled (kube-scheduler)'],
  ['podRunning', 'pod Running (kwok)'],
  ['podReady', 'pod Ready (kwok)'],
  ['deploymentAvailable', 'Deployment available (controller-manager)'],
  ['certificateReady', 'Certificate Ready (cert-manager)'],
  ['reported', 'first pod report (the sidecar; here the bench)'],
  ['available', 'Available=True (operator)'],
  ['ready', 'Ready=True (operator)'],
] as const;
type Stage = (typeof STAGES)[number][0];

/** Per-PaddleService time (ms since the first create) at which each stage was first seen. */
class Timeline {
  readonly t0 = performance.now();
  readonly at = new Map<string, Partial<Record<Stage, number>>>();

  mark(name: string, stage: Stage): void {
    const row = this.at.get(name) ?? {};
    if (row[stage] === undefined) row[stage] = performance.now() - this.t0;
    this.at.set(name, row);
  }

  count(stage: Stage): number {
    let n = 0;
    for (const row of this.at.values()) if (row[stage] !== undefined) n++;
    return n;
  }

  /** Seconds after the first create at which fraction q of `n` PaddleServices had reached `stage`. */
  quantileAt(stage: Stage, n: number, q: number): number | undefined {
    const xs = [...this.at.values()].flatMap((r) => (r[stage] !== undefined ? [r[stage]] : [])).sort((a, b) => a - b);
    const k = Math.ceil(q * n) - 1;
    return k < xs.length ? (xs[k] as number) / 1000 : undefined;
  }

  /** Per-PaddleService seconds from `from` to `to` (only where both were seen). */
  lags(from: Stage | ((r: Partial<Record<Stage, number>>) => number | undefined), to: Stage): number[] {
    const out: number[] = [];
    for (const r of this.at.values()) {
      const a = typeof from === 'function' ? from(r) : r[from];
      const b = r[to];
      if (a !== undefined && b !== undefined) out.push((b - a) / 1000);
    }
    return out.sort((x, y) => x - y);
  }
}

function spec(name: string): PaddleService {
  return {
    apiVersion: 'serving.paddle.io/v1alpha1',
    kind: 'PaddleService',
    metadata: { name },
    spec: {
      replicas: 1,
      model: { name: 'mlp', source: { configMap: { name: 'tiny-model' } }, verification: { required: false } },
      runtime: { device: 'cpu' },
      resources: {
        requests: { cpu: '100m', memory: '256Mi' },
        nodeSelector: { 'kubernetes.io/hostname': BENCH_NODE },
        tolerations: [{ key: BENCH_TAINT, operator: 'Exists', effect: 'NoSchedule' }],
      },
      tls: { enabled: true, issuerRef: E2E_ISSUER },
      auth: { enabled: false },
      observability: { reportIntervalSeconds: REPORT_INTERVAL_S, reportHeartbeatSeconds: REPORT_HEARTBEAT_S },
    },
  };
}

/** A kwok node big enough for every pod of the run (kwok manages nodes with this annotation). */
async function ensureBenchNode(clients: Clients, n: number): Promise<void> {
  // Sized for the default run (1000) at least, so a smaller run first does not leave a node too small for it.
  const size = Math.max(1000, n);
  const capacity = { cpu: String(size), memory: `${size}Gi`, pods: String(size + 100) };
  await applyObject(clients.objects, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: BENCH_NODE,
      annotations: { 'kwok.x-k8s.io/node': 'fake' },
      labels: { type: 'kwok', 'kubernetes.io/hostname': BENCH_NODE, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
    },
    spec: { taints: [{ key: BENCH_TAINT, value: 'true', effect: 'NoSchedule' }] },
    status: { capacity, allocatable: capacity },
  } as KubernetesObject);
  await waitFor(
    async () => (await clients.core.readNode({ name: BENCH_NODE })).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
    60_000,
    `kwok to make node ${BENCH_NODE} Ready`,
  );
  // The status above is applied at create only (kwok owns it after): a larger later run raises it.
  const node = await clients.core.readNode({ name: BENCH_NODE });
  if (Number(node.status?.allocatable?.pods ?? 0) < n) throw new Error(`node ${BENCH_NODE} allows ${node.status?.allocatable?.pods} pods, fewer than ${n}: delete it and run again`);
}

const conditionTrue = (conds: Array<{ type?: string; status?: string }> | undefined, type: string) => conds?.some((c) => c.type === type && c.status === 'True') === true;

/**
 * Plays each pod's sidecar as the sidecar does it (sidecar/src/main.ts): its first report when
 * kwok marks it Ready, then the next one reportIntervalSeconds after each report has finished,
 * every pod on its own timer. (A shared pool of 16 in flight fell behind under load in the
 * 08:29 run: 6 reports/s for ~400 pods instead of 27, reports older than the operator's 45 s
 * staleness, and Ready held back by the bench itself.) In flight at most MAX_IN_FLIGHT, far
 * above what the interval needs, so the bench never sets the reports' pace.
 */
class Reporters {
  readonly #clients: Clients;
  readonly #ns: string;
  readonly #timeline: Timeline;
  readonly #pods = new Map<string, { patcher: PodReportPatcher; reporter: PodReporter }>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #waiting: string[] = [];
  #busy = 0;
  #stopped = false;
  sent = 0;
  /** Reports built but not written: unchanged within the heartbeat (the sidecar's PodReporter). */
  unchanged = 0;
  errors = 0;
  lastError = '';
  /** Reports due but not started because MAX_IN_FLIGHT were in flight (how far the bench fell behind). */
  deferred = 0;

  constructor(clients: Clients, ns: string, timeline: Timeline) {
    this.#clients = clients;
    this.#ns = ns;
    this.#timeline = timeline;
  }

  podReady(pod: V1Pod): void {
    const name = pod.metadata?.name ?? '';
    if (this.#pods.has(name)) return;
    const instance = pod.metadata?.labels?.[INSTANCE_LABEL] ?? '';
    // Each pod's own patcher (its own keep-alive connection), as each sidecar has.
    const patcher = new PodReportPatcher(this.#clients.kc, { namespace: this.#ns, serviceName: instance, podName: name, templateHash: pod.metadata?.labels?.[TEMPLATE_LABEL] ?? '' });
    // The sidecar's own report loop step (build, write when changed or the heartbeat is due); the
    // bench schedules the ticks itself (each pod's timer, at most MAX_IN_FLIGHT in flight).
    const reporter = new PodReporter({
      build: benchReport,
      patch: (r) => patcher.patch(r),
      cadence: () => ({ intervalSeconds: REPORT_INTERVAL_S, heartbeatSeconds: REPORT_HEARTBEAT_S }),
      onResult: (result, err) => {
        if (result === 'ok') {
          this.sent++;
          this.#timeline.mark(instance, 'reported');
        } else if (result === 'unchanged') {
          this.unchanged++;
        } else {
          this.errors++;
          this.lastError = String(err).slice(0, 200);
        }
      },
    });
    this.#pods.set(name, { patcher, reporter });
    this.#due(name);
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#waiting.length = 0;
    for (const p of this.#pods.values()) p.patcher.close();
  }

  #due(pod: string): void {
    if (this.#stopped) return;
    if (this.#busy >= MAX_IN_FLIGHT) {
      this.deferred++;
      this.#waiting.push(pod);
      return;
    }
    this.#busy++;
    void this.#send(pod).finally(() => {
      this.#busy--;
      const next = this.#waiting.shift();
      if (next !== undefined) this.#due(next);
      if (this.#stopped) return;
      const t = setTimeout(() => {
        this.#timers.delete(t);
        this.#due(pod);
      }, REPORT_INTERVAL_S * 1000);
      this.#timers.add(t);
    });
  }

  async #send(pod: string): Promise<void> {
    await this.#pods.get(pod)?.reporter.tick();
  }
}

/** What each played pod reports: ready, idle (no requests), the same every time but for reportedAt. */
function benchReport(): PodReport {
  return buildPodReport({
    now: new Date(),
    ready: true,
    selfCheckPassed: true,
    info: { format: 'pdmodel', backend: 'builtin', backendVersion: 'bench', verified: false, digest: 'sha256:bench', parameterBytes: 0 },
    device: 'cpu',
    mode: 'normal',
    latenciesMs: [],
    baselineP95Ms: undefined,
    requests: { total: 0, errors: 0 },
    matrix: { gpuMemoryBucketMB: 1024, latencyBucketMs: 5, seqLenEdges: [], total: 0, cells: [] },
    stats: undefined,
    breaker: { state: 'closed', trips: 0, treatmentState: 'closed' },
  });
}

/**
 * Where the seconds of the last PaddleService to become Ready went: the chain created ->
 * Deployment -> ReplicaSet -> pod -> scheduled -> Running -> pod Ready -> Deployment available,
 * beside it the Certificate and the first report, then Ready; each step named by the component
 * that holds it.
 */
function lastReadyPath(timeline: Timeline): string[] {
  let last: [string, Partial<Record<Stage, number>>] | undefined;
  for (const [name, r] of timeline.at) if (r.ready !== undefined && (!last || r.ready > (last[1].ready ?? 0))) last = [name, r];
  if (!last) return ['path     : no PaddleService became Ready'];
  const [name, r] = last;
  const s = (x: number | undefined) => (x === undefined ? '?' : (x / 1000).toFixed(1));
  const d = (a: Stage, b: Stage) => (r[a] !== undefined && r[b] !== undefined ? (((r[b] as number) - (r[a] as number)) / 1000).toFixed(1) : '?');
  const chain: Array<[Stage, Stage, string]> = [
    ['created', 'deployment', 'operator (queue + first reconcile)'],
    ['deployment', 'replicaSet', 'controller-manager'],
    ['replicaSet', 'podCreated', 'controller-manager'],
    ['podCreated', 'scheduled', 'kube-scheduler'],
    ['scheduled', 'podRunning', 'kwok'],
    ['podRunning', 'podReady', 'kwok'],
    ['podReady', 'deploymentAvailable', 'controller-manager'],
  ];
  const inputs: Array<[Stage, string]> = [
    ['deploymentAvailable', 'Deployment available'],
    ['certificateReady', 'Certificate Ready (cert-manager, from the operator\'s apply with the Deployment)'],
    ['reported', 'first report (sidecar)'],
  ];
  const lastIn = inputs.reduce((a, b) => ((r[b[0]] ?? -1) > (r[a[0]] ?? -1) ? b : a));
  return [
    `path     : the last PaddleService to become Ready (${name}, Ready at ${s(r.ready)} s): ${chain.map(([a, b, who]) => `${who} ${d(a, b)} s`).join(' -> ')}`,
    `           inputs at ${inputs.map(([st, what]) => `${what} ${s(r[st])} s`).join(', ')}; the last (${lastIn[1]}) -> Ready=True: operator ${d(lastIn[0], 'ready')} s`,
  ];
}

/** The namespace's Events counted by the component that wrote them (reportingController, else source.component). */
async function eventsBySource(clients: Clients, ns: string): Promise<Array<[string, number]>> {
  const counts = new Map<string, number>();
  let cont: string | undefined;
  do {
    const page = await clients.core.listNamespacedEvent({ namespace: ns, limit: 2000, ...(cont ? { _continue: cont } : {}) });
    for (const e of page.items as CoreV1Event[]) {
      const who = e.reportingComponent || e.source?.component || 'unknown';
      counts.set(who, (counts.get(who) ?? 0) + (e.count ?? 1));
    }
    cont = page.metadata?._continue;
  } while (cont);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}

function dist(xs: number[]): string {
  if (xs.length === 0) return 'n/a';
  const q = (p: number) => (xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)] as number).toFixed(1);
  return `median ${q(0.5)} s, p90 ${q(0.9)} s, max ${q(1)} s`;
}


async function runReady(clients: Clients, op: OperatorProcess, n: number): Promise<void> {
  const ns = await createTestNamespace(clients, `bench-op-ready-${n}`);
  const timeline = new Timeline();
  const reporters = new Reporters(clients, ns, timeline);
  const watches = [
    new NamespaceWatch<PaddleService>(clients, paddleServices(ns), (ps) => {
      const conds = ps.status?.conditions;
      if (conditionTrue(conds, 'Available')) timeline.mark(ps.metadata.name ?? '', 'available');
      if (conditionTrue(conds, 'Ready')) timeline.mark(ps.metadata.name ?? '', 'ready');
    }),
    new NamespaceWatch<V1Deployment>(clients, deployments(ns), (d) => {
      const name = d.metadata?.name ?? '';
      timeline.mark(name, 'deployment');
      if ((d.status?.availableReplicas ?? 0) >= 1 && conditionTrue(d.status?.conditions, 'Available')) timeline.mark(name, 'deploymentAvailable');
    }),
    new NamespaceWatch<V1ReplicaSet>(clients, replicaSets(ns), (rs) => {
      const name = rs.metadata?.labels?.[INSTANCE_LABEL];
      if (name) timeline.mark(name, 'replicaSet');
    }),
    new NamespaceWatch<V1Pod>(clients, pods(ns), (p) => {
      const name = p.metadata?.labels?.[INSTANCE_LABEL];
      if (!name || p.metadata?.deletionTimestamp) return;
      timeline.mark(name, 'podCreated');
      if (p.spec?.nodeName) timeline.mark(name, 'scheduled');
      if (p.status?.phase === 'Running') timeline.mark(name, 'podRunning');
      if (conditionTrue(p.status?.conditions, 'Ready')) {
        timeline.mark(name, 'podReady');
        reporters.podReady(p);
      }
    }),
    new NamespaceWatch<KubernetesObject & { status?: { conditions?: Array<{ type?: string; status?: string }> } }>(clients, certificates(ns), (c) => {
      if (conditionTrue(c.status?.conditions, 'Ready')) timeline.mark(c.metadata?.name ?? '', 'certificateReady');
    }),
  ];
  try {
    await Promise.all(watches.map((w) => w.start()));
    const names = Array.from({ length: n }, (_, i) => `psvc-${i}`);
    const pids = { operator: op.child.pid ?? 0, ...clusterPids() };
    const cpu0 = cpuSnapshot(pids);
    const metrics0 = await op.metrics();
    const api0 = await apiServerCounters();
    const load0 = loadavg()[0] ?? 0;
    const t0 = performance.now();
    let peakRss = 0;
    await pool(names, 32, async (name) => {
      await benchClient(clients).create(paddleServices(ns).path, spec(name));
      timeline.mark(name, 'created');
    });
    const createdS = (performance.now() - t0) / 1000;
    const createCpuMs = ((cpuSince(pids, cpu0)['kube-apiserver'] ?? 0) * 1000) / n;
    let lastProgress = 0;
    for (;;) {
      peakRss = Math.max(peakRss, rssMb(op.child.pid ?? 0).rss);
      const elapsed = (performance.now() - t0) / 1000;
      if (timeline.count('ready') >= n) break;
      if (elapsed - lastProgress >= 15) {
        lastProgress = elapsed;
        const depth = await op.metric('paddle_operator_workqueue_depth').catch(() => NaN);
        const line = `${elapsed.toFixed(0)} s: ${STAGES.slice(1).map(([s]) => `${s} ${timeline.count(s)}`).join(', ')}; operator queue ${depth}; reports ${reporters.sent}`;
        console.log(`progress : ${line}`);
      }
      if (elapsed > TIMEOUT_S) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const wall = (performance.now() - t0) / 1000;
    const allReady = timeline.count('ready') >= n;
    const cpu = cpuSince(pids, cpu0);
    const metrics1 = await op.metrics();
    const api1 = await apiServerCounters();
    const apiWrites = apiServerWrites(api0.requests, api1.requests);
    const byComponent = writesByComponent(api0, api1, reporters.sent);
    const eventSources = await eventsBySource(clients, ns);
    reporters.stop();
    const mem = rssMb(op.child.pid ?? 0);
    const load1 = loadavg()[0] ?? 0;

    const inputs: Stage[] = ['deploymentAvailable', 'certificateReady', 'reported'];
    const lastInput = (r: Partial<Record<Stage, number>>): number | undefined => {
      const xs = inputs.map((s) => r[s]);
      return xs.every((x) => x !== undefined) ? Math.max(...(xs as number[])) : undefined;
    };
    const holder = new Map<Stage, number>();
    for (const r of timeline.at.values()) {
      const t = lastInput(r);
      if (t === undefined) continue;
      const s = inputs.find((x) => r[x] === t) as Stage;
      holder.set(s, (holder.get(s) ?? 0) + 1);
    }
    const writes = (text: string) => sumMetric(text, 'paddle_operator_api_requests_total', {}) - sumMetric(text, 'paddle_operator_api_requests_total', { verb: 'get' }) - sumMetric(text, 'paddle_operator_api_requests_total', { verb: 'list' }) - sumMetric(text, 'paddle_operator_api_requests_total', { resource: 'leases' });
    const reconciles = sumMetric(metrics1, 'paddle_operator_reconcile_total', {}) - sumMetric(metrics0, 'paddle_operator_reconcile_total', {});
    const others = Object.entries(cpu).filter(([k]) => k !== 'operator').reduce((a, [, v]) => a + v, 0);

    console.log(`\n== time to Ready: ${n} PaddleServices, 1 replica each, TLS (cert-manager CA ClusterIssuer), pods on kwok node ${BENCH_NODE}, verification off ==`);
    for (const line of componentConfig(WORKERS)) console.log(`config   : ${line}`);
    console.log(`config   : kwok node ${BENCH_NODE}; pods look at their report every ${REPORT_INTERVAL_S} s after the last one finished and write it when it changed or ${REPORT_HEARTBEAT_S} s after their last write, each on its own timer (as the sidecar; at most ${MAX_IN_FLIGHT} in flight from the bench)`);
    console.log(`reference: API server accepted the ${n} creates in ${createdS.toFixed(1)} s (kube-apiserver CPU ${createCpuMs.toFixed(1)} ms per create)`);
    console.log(`all Ready: ${allReady ? `every PaddleService Ready=True ${timeline.quantileAt('ready', n, 1)?.toFixed(1)} s after the first create` : `NOT all Ready after ${wall.toFixed(0)} s (${timeline.count('ready')}/${n})`} (target <= ${TARGET_READY_S} s: ${allReady ? ((timeline.quantileAt('ready', n, 1) ?? 0) / TARGET_READY_S).toFixed(2) : '>' + (wall / TARGET_READY_S).toFixed(2)}x)`);
    console.log('stages   : seconds after the first create at which 50 % / 100 % of the PaddleServices had reached each step');
    for (const [s, what] of STAGES) {
      const half = timeline.quantileAt(s, n, 0.5);
      const all = timeline.quantileAt(s, n, 1);
      console.log(`  ${what.padEnd(48)} ${half !== undefined ? half.toFixed(1).padStart(6) : '     -'} ${all !== undefined ? all.toFixed(1).padStart(6) : `     - (${timeline.count(s)}/${n})`}`);
    }
    console.log('per step : per PaddleService, seconds spent in each component');
    const steps: Array<[string, Stage | ((r: Partial<Record<Stage, number>>) => number | undefined), Stage]> = [
      ['operator: created -> Deployment', 'created', 'deployment'],
      ['controller-manager: Deployment -> ReplicaSet', 'deployment', 'replicaSet'],
      ['controller-manager: ReplicaSet -> pod created', 'replicaSet', 'podCreated'],
      ['kube-scheduler: pod created -> scheduled', 'podCreated', 'scheduled'],
      ['kwok: scheduled -> pod Running', 'scheduled', 'podRunning'],
      ['kwok: pod Running -> pod Ready', 'podRunning', 'podReady'],
      ['controller-manager: pod Ready -> Deployment available', 'podReady', 'deploymentAvailable'],
      ['operator + cert-manager: created -> Certificate Ready', 'created', 'certificateReady'],
      ['sidecar (bench): pod Ready -> first report', 'podReady', 'reported'],
      ['operator: Deployment available -> Available=True', 'deploymentAvailable', 'available'],
      ['operator: last of the three inputs -> Ready=True', lastInput, 'ready'],
      ['what the user waits for: created -> Ready=True', 'created', 'ready'],
    ];
    for (const [what, from, to] of steps) console.log(`  ${what.padEnd(56)} ${dist(timeline.lags(from, to))}`);
    console.log(`last in  : the input that came last before Ready, per PaddleService: ${[...holder.entries()].map(([s, c]) => `${STAGES.find(([x]) => x === s)?.[1]} ${c}`).join(', ')}`);
    for (const line of lastReadyPath(timeline)) console.log(line);
    console.log(`operator : ${reconciles} reconciles (${(reconciles / n).toFixed(1)} per PaddleService), ${writes(metrics1) - writes(metrics0)} writes; ${reporters.sent} pod reports sent, ${reporters.unchanged} unchanged ones not (${reporters.errors} failed${reporters.lastError ? `: ${reporters.lastError}` : ''}; ${reporters.deferred} waited for one of the bench's ${MAX_IN_FLIGHT} slots)`);
    console.log(`cpu      : over ${wall.toFixed(1)} s wall (2 cores = 200%): ${Object.entries(cpu).map(([k, v]) => `${k} ${v.toFixed(1)} s (${((100 * v) / wall).toFixed(0)}%)`).join(', ')}; cluster processes ${others.toFixed(1)} CPU-s`);
    const totalWrites = apiWrites.reduce((a, [, c]) => a + c, 0);
    const serverS = byComponent.reduce((a, [, , sec]) => a + sec, 0);
    console.log(`by whom  : the API server's writes and the seconds it spent serving them (request durations, summed: ${serverS.toFixed(0)} s in ${wall.toFixed(0)} s), by the component that made them:`);
    for (const [who, count, sec] of byComponent) console.log(`  ${who.padEnd(48)} ${String(count).padStart(7)} writes (${(count / n).toFixed(1)} per PaddleService) ${sec.toFixed(1).padStart(8)} s (${((100 * sec) / serverS).toFixed(0)} %)`);
    console.log(`events   : by source: ${eventSources.map(([k, c]) => `${k} ${c}`).join(', ')}`);
    console.log(`api      : the API server served ${totalWrites} writes (${(totalWrites / n).toFixed(1)} per PaddleService; kube-apiserver ${(((cpu['kube-apiserver'] ?? 0) * 1000) / totalWrites).toFixed(1)} ms CPU per write, reads and watches included): ${apiWrites.slice(0, 14).map(([k, c]) => `${k} ${c}`).join(', ')}`);
    console.log(`floor    : the cluster processes used ${others.toFixed(1)} CPU-s, ${(others / 2).toFixed(1)} s of 2 fully free cores, the operator's ${(cpu.operator ?? 0).toFixed(1)} CPU-s aside`);
    // Per PaddleService made Ready: CPU per unit of work, which the machine's other load changes far less than seconds.
    const readyN = Math.max(1, timeline.count('ready'));
    const startedN = Math.max(1, timeline.count('deployment'));
    const perPs = (k: number) => `kube-apiserver ${((1000 * (cpu['kube-apiserver'] ?? 0)) / k).toFixed(0)} ms, all cluster processes ${((1000 * others) / k).toFixed(0)} ms, operator ${((1000 * (cpu.operator ?? 0)) / k).toFixed(0)} ms`;
    console.log(`per PS   : CPU per PaddleService made Ready (${readyN}): ${perPs(readyN)}${startedN > readyN ? `; per PaddleService that got as far as its Deployment (${startedN}; a lower bound of the cost of one made Ready): ${perPs(startedN)}` : ''}; at that, 1000 need ${((others / Math.max(readyN, startedN)) * 500).toFixed(0)} s or more of 2 free cores for the cluster alone`);
    console.log(`load     : 1-min load average ${load0.toFixed(2)} before the creates, ${load1.toFixed(2)} at the end (2 cores)`);
    console.log(`RSS      : ${mem.rss} MB now, ${Math.max(peakRss, mem.peak)} MB peak with ${n} pods cached (target <= ${TARGET_RSS_MB} MB: ${(Math.max(peakRss, mem.peak) / TARGET_RSS_MB).toFixed(2)}x)`);
  } finally {
    reporters.stop();
    await Promise.all(watches.map((w) => w.stop()));
    await deleteTestNamespace(clients, ns);
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1000);
  if (!(n > 0)) throw new Error(`N must be a positive number, got ${process.argv[2]}`);
  process.env.MALLOC_ARENA_MAX = MALLOC_ARENA_MAX;
  const clients = makeClients();
  await waitForEarlierRuns(clients);
  await ensureBenchNode(clients, n);
  // BENCH_OPERATOR_FROM_SOURCE=1: the operator from its sources (tsx), without make build-ts (RSS is then tsx's too).
  const compiled = process.env.BENCH_OPERATOR_FROM_SOURCE !== '1';
  const op = await startOperator({ identity: `bench-ready-${n}`, leaseName: `bench-operator-ready-${n}`, compiled, nodeArgs: NODE_ARGS, extraArgs: ['--workers', String(WORKERS)] });
  try {
    await runReady(clients, op, n);
  } finally {
    await op.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
