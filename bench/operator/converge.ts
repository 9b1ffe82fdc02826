// Operator benchmark on the local control plane: create N PaddleServices at once and measure
//   - seconds until every one has all its children and a status (observedGeneration 1),
//   - API writes per PaddleService during a no-op resync (target: 0),
//   - operator RSS (target: <= 200 MB),
// with a reference measured in the same run: the time the API server takes to accept the N
// PaddleService creates themselves (the floor no operator can beat), and the issue's targets.
//
// The PaddleServices are CPU, TLS off, verification off and replicas 0: the figure is the
// operator's work (6 children: TLS off, no Certificate; replicas 0, no PodDisruptionBudget; a status patch and a Ready Event each), not the scheduler's or kwok's with 1000 pods.
// At replicas 0 a PaddleService is Ready (ScaledToZero) once its Deployment exists, so "all
// Ready" follows the converge; time to Ready with pods, TLS and reports is ready.ts.
//
// Usage: make build-ts && npx tsx bench/operator/converge.ts [N ...]   (default: 200 1000)
//
// The e2e cluster's --service-cluster-ip-range is a /16, so 1000 Services fit.

import { loadavg } from 'node:os';
import type { V1Deployment } from '@kubernetes/client-node';
import type { PaddleService } from '../../crds/src/index.js';
import { createTestNamespace, deleteTestNamespace, makeClients, waitFor, type Clients } from '../../e2e/src/index.js';
import { startOperator, sumMetric, waitUntilLeading, type OperatorProcess } from '../../operator/test/e2e/harness.js';
import { apiServerCounters, apiServerWrites, clusterPids, componentConfig, cpuSeconds, cpuSince, cpuSnapshot, pool, rssMb, waitForEarlierRuns, writesByComponent } from './proc.js';
import { benchClient, NamespaceWatch, paddleServices } from './watch.js';

const TARGET_CONVERGE_S_1000 = 60;
const TARGET_RSS_MB = 200;
/** The no-op check's resync period (a fresh operator, after the converge). */
const RESYNC_S = 10;
/**
 * The converging operator's resync period: the operator's own default (300 s; the chart's too).
 * A 10 s resync during the converge re-queued every converged PaddleService every 10 s (4.5
 * reconciles per PaddleService over a 70 s converge of 1000, ~3.5 of them resyncs), CPU the
 * operator takes from the control plane on the same 2 cores and that no deployed operator
 * spends. BENCH_OPERATOR_RESYNC_S overrides.
 */
const CONVERGE_RESYNC_S = Number(process.env.BENCH_OPERATOR_RESYNC_S ?? 300);
/** Node flags for the operator process (what the chart sets: operator.nodeOptions); BENCH_OPERATOR_NODE_ARGS overrides. */
const NODE_ARGS = (process.env.BENCH_OPERATOR_NODE_ARGS ?? '--max-old-space-size=128 --max-semi-space-size=8').split(' ').filter(Boolean);
/** glibc malloc arenas of the operator process (the chart's operator.mallocArenaMax); the environment's MALLOC_ARENA_MAX overrides. */
const MALLOC_ARENA_MAX = process.env.MALLOC_ARENA_MAX ?? '2';

function spec(name: string): PaddleService {
  return {
    apiVersion: 'serving.paddle.io/v1alpha1',
    kind: 'PaddleService',
    metadata: { name },
    spec: {
      replicas: 0,
      model: { name: 'mlp', source: { configMap: { name: 'tiny-model' } }, verification: { required: false } },
      runtime: { device: 'cpu' },
      tls: { enabled: false },
      auth: { enabled: false },
    },
  };
}

/**
 * Where the converge time goes: CPU seconds of the operator and of each control-plane process
 * over the window, the operator's work queue and in-flight API requests sampled every second,
 * and its API latency by verb (histogram sum / count over the window).
 */
class ConvergeProfile {
  readonly #pids: Record<string, number>;
  readonly #cpu0: Record<string, number>;
  readonly #t0 = performance.now();
  /** This process's own CPU at the start (the bench's watch, polls and scrapes share the 2 cores). */
  readonly #self0 = process.cpuUsage();
  /** The operator's metrics at the start of the window (the same scrape the run's write count starts from). */
  readonly #text0: string;
  readonly depth: number[] = [];
  readonly inFlight: number[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(op: OperatorProcess, text0: string) {
    this.#pids = { operator: op.child.pid ?? 0, ...clusterPids() };
    this.#cpu0 = Object.fromEntries(Object.entries(this.#pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    this.#text0 = text0;
    let busy = false;
    this.#timer = setInterval(() => {
      if (busy) return;
      busy = true;
      op
        .metrics()
        .then((text) => {
          this.depth.push(sumMetric(text, 'paddle_operator_workqueue_depth', {}));
          this.inFlight.push(sumMetric(text, 'paddle_operator_api_requests_in_flight', {}));
        })
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, 1_000);
  }

  async finish(op: OperatorProcess, n: number): Promise<string[]> {
    if (this.#timer) clearInterval(this.#timer);
    const wall = (performance.now() - this.#t0) / 1000;
    const text = await op.metrics();
    const delta = (name: string, labels: Record<string, string> = {}) => sumMetric(text, name, labels) - sumMetric(this.#text0, name, labels);
    let others = 0;
    const cpu = Object.entries(this.#pids).map(([k, pid]) => {
      const used = cpuSeconds(pid) - (this.#cpu0[k] ?? 0);
      if (k !== 'operator') others += used;
      return `${k} ${used.toFixed(1)} s (${((100 * used) / wall).toFixed(0)}%)`;
    });
    const latency = ['apply', 'patch', 'get', 'list', 'create']
      .map((verb) => {
        const count = delta('paddle_operator_api_request_duration_seconds_count', { verb });
        const sum = delta('paddle_operator_api_request_duration_seconds_sum', { verb });
        return count > 0 ? `${verb} ${count} x ${((1000 * sum) / count).toFixed(0)} ms` : '';
      })
      .filter(Boolean);
    const reconciles = delta('paddle_operator_reconcile_total');
    const stats = (xs: number[]) => (xs.length ? `mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1)}, max ${Math.max(...xs)}` : 'n/a');
    const self = process.cpuUsage(this.#self0);
    const selfS = (self.user + self.system) / 1e6;
    return [
      `cpu      : over ${wall.toFixed(1)} s wall (2 cores = 200%): ${cpu.join(', ')}; this bench process ${selfS.toFixed(1)} s (${((100 * selfS) / wall).toFixed(0)}%: its creates, PaddleService watch and scrapes)`,
      // The floor the shared machine sets: the control plane's CPU for this converge, spread over
      // both cores, as if the operator cost nothing.
      `floor    : the cluster processes alone used ${others.toFixed(1)} CPU-s: ${(others / 2).toFixed(1)} s on 2 fully free cores, operator excluded`,
      `api      : mean latency ${latency.join(', ')}; in flight ${stats(this.inFlight)}`,
      `queue    : depth ${stats(this.depth)}; ${reconciles} reconciles (${(reconciles / n).toFixed(1)} per PaddleService)`,
    ];
  }
}

/** The Deployment controller's pace between 10 % and 90 % of the Deployments (from the polls). */
function kcmRate(series: Array<[number, number]>, n: number): string {
  const from = series.find(([, c]) => c >= n * 0.1);
  const to = series.find(([, c]) => c >= n * 0.9);
  if (!from || !to || to[0] <= from[0]) return 'pace not measured (finished within one poll)';
  return `${((to[1] - from[1]) / (to[0] - from[0])).toFixed(1)} Deployment statuses/s from ${from[0].toFixed(0)} s to ${to[0].toFixed(0)} s`;
}

/** Deployments whose status the Deployment controller has written for their current generation. */
async function deploymentsWithStatus(c: Clients, ns: string): Promise<number> {
  const items = (await benchClient(c).list<V1Deployment>(`/apis/apps/v1/namespaces/${ns}/deployments`)).items;
  return items.filter((d) => d.status?.observedGeneration === d.metadata?.generation && d.status?.conditions?.some((x) => x.type === 'Available')).length;
}

/** Counted with the bench's KubeClient (plain JSON, no typed deserialisation of 1000 objects). */
const MANAGED = { labelSelector: 'app.kubernetes.io/managed-by=paddle-operator' };
const countOf = async (c: Clients, path: string, query: Record<string, string> = {}): Promise<number> => (await benchClient(c).list<unknown>(path, { query })).items.length;
const CHILD_LISTS: Array<[string, (c: Clients, ns: string) => Promise<number>]> = [
  ['deployments', (c, ns) => countOf(c, `/apis/apps/v1/namespaces/${ns}/deployments`)],
  ['services', (c, ns) => countOf(c, `/api/v1/namespaces/${ns}/services`)],
  ['configmaps', (c, ns) => countOf(c, `/api/v1/namespaces/${ns}/configmaps`, MANAGED)],
  ['serviceaccounts', (c, ns) => countOf(c, `/api/v1/namespaces/${ns}/serviceaccounts`, MANAGED)],
];

async function runOnce(clients: Clients, op: OperatorProcess, n: number): Promise<void> {
  const ns = await createTestNamespace(clients, `bench-op-${n}`);
  const watch = new NamespaceWatch<PaddleService>(clients, paddleServices(ns));
  try {
    const names = Array.from({ length: n }, (_, i) => `psvc-${i}`);
    await watch.start();
    const writesText0 = await op.metrics();
    const load0 = loadavg()[0] ?? 0;
    const profile = new ConvergeProfile(op, writesText0);
    const apiserverPid = clusterPids()['kube-apiserver'] ?? 0;
    const apiserverCpu0 = cpuSeconds(apiserverPid);
    const allPids: Record<string, number> = { operator: op.child.pid ?? 0, ...clusterPids() };
    const allCpu0 = cpuSnapshot(allPids);
    const api0 = await apiServerCounters();
    const t0 = performance.now();
    await pool(names, 32, async (name) => {
      await benchClient(clients).create(paddleServices(ns).path, spec(name));
    });
    const createdS = (performance.now() - t0) / 1000;
    const createCpuMs = ((cpuSeconds(apiserverPid) - apiserverCpu0) * 1000) / n;

    let convergedS = 0;
    let peakRss = 0;
    for (;;) {
      peakRss = Math.max(peakRss, rssMb(op.child.pid ?? 0).rss);
      const withStatus = watch.count((p) => p.status?.observedGeneration === 1);
      let children = true;
      if (withStatus === n) {
        for (const [, count] of CHILD_LISTS) if ((await count(clients, ns)) < n) children = false;
      }
      if (withStatus === n && children) {
        convergedS = (performance.now() - t0) / 1000;
        break;
      }
      if (performance.now() - t0 > 900_000) throw new Error(`not converged after 900 s: ${withStatus}/${n} with status`);
      // The children are counted by LISTs once every status is there: until then, look at the watch's cache.
      await new Promise((r) => setTimeout(r, withStatus === n ? 2_000 : 250));
    }
    const writesToConverge = writesBetween(writesText0, await op.metrics()).total;
    const apiserverMsPerPs = ((cpuSeconds(apiserverPid) - apiserverCpu0) * 1000) / n;
    const byComponent = writesByComponent(api0, await apiServerCounters());
    const profileLines = await profile.finish(op, n);
    const load1 = loadavg()[0] ?? 0;

    // Settle: every PaddleService Ready (replicas 0: Ready=True ScaledToZero once its Deployment
    // exists) and the work queue empty; then count writes over two resync periods. Meanwhile,
    // when the controller-manager's Deployment controller has written every Deployment's status
    // (observedGeneration and the Available condition): before ScaledToZero, Ready waited for it.
    const settleStart = performance.now();
    let allReadyS = 0;
    let kcmDoneS = 0;
    let kcmDone = 0;
    let kcmAtReady = -1;
    let lastKcmCheck = 0;
    const kcmSeries: Array<[number, number]> = [];
    let lastApiCpu = cpuSeconds(apiserverPid);
    for (;;) {
      const ready = watch.count((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true);
      if (ready === n && allReadyS === 0) allReadyS = (performance.now() - t0) / 1000;
      const depth = await op.metric('paddle_operator_workqueue_depth');
      if (kcmDoneS === 0 && performance.now() - lastKcmCheck > 5_000) {
        lastKcmCheck = performance.now();
        kcmDone = await deploymentsWithStatus(clients, ns);
        kcmSeries.push([(performance.now() - t0) / 1000, kcmDone]);
        if (kcmDone === n) kcmDoneS = (performance.now() - t0) / 1000;
      }
      if (allReadyS > 0 && kcmAtReady < 0) kcmAtReady = kcmDone;
      // ... and the API server idle (under a quarter of a core over the last second): the
      // controllers' trailing writes (PDB status, Events) are part of the cost.
      const apiCpu = cpuSeconds(apiserverPid);
      const apiIdle = apiCpu - lastApiCpu < 0.25;
      lastApiCpu = apiCpu;
      if (ready === n && depth === 0 && kcmDoneS > 0 && apiIdle) break;
      if (performance.now() - settleStart > 400_000) throw new Error(`not settled after 400 s: ${ready}/${n} Ready, queue depth ${depth}, ${kcmDone}/${n} Deployment statuses`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const settledS = (performance.now() - t0) / 1000;
    // The whole cost of the N PaddleServices: the controllers' work that trails the converge
    // (ReplicaSet and PDB status, Events) included.
    const settleCpu = cpuSince(allPids, allCpu0);
    const settleWrites = apiServerWrites(api0.requests, (await apiServerCounters()).requests);
    const mem = rssMb(op.child.pid ?? 0);
    const mb = async (name: string) => Math.round((await op.metric(name)) / 2 ** 20);
    const heap = `V8 heap used ${await mb('paddle_operator_nodejs_heap_size_used_bytes')} MB of ${await mb('paddle_operator_nodejs_heap_size_total_bytes')} MB, external ${await mb('paddle_operator_nodejs_external_memory_bytes')} MB`;
    // The converging operator goes; the no-op check runs a fresh one over the same objects.
    await op.stop();
    const noop = await noopResyncs(n);

    console.log(`\n== ${n} PaddleServices ==`);
    for (const line of componentConfig()) console.log(`config   : ${line}`);
    console.log(`reference: API server accepted the ${n} creates in ${createdS.toFixed(1)} s (kube-apiserver CPU ${createCpuMs.toFixed(1)} ms per create, operator already watching)`);
    console.log(`converge : every PaddleService with its 6 children + status in ${convergedS.toFixed(1)} s (${(convergedS / createdS).toFixed(2)}x the create time)`);
    if (n === 1000) console.log(`           target <= ${TARGET_CONVERGE_S_1000} s on 2 cores: ${(convergedS / TARGET_CONVERGE_S_1000).toFixed(2)}x of target`);
    console.log(`writes   : ${writesToConverge} to converge (${(writesToConverge / n).toFixed(1)} per PaddleService: 6 applies, 1 status patch, 1 Ready Event)`);
    console.log(`all Ready: every PaddleService Ready=True ${allReadyS.toFixed(1)} s after the first create (target <= 60 s for 1000: ${(allReadyS / 60).toFixed(2)}x)`);
    console.log(`kcm      : the controller-manager had written every Deployment's status (Available, observedGeneration) at ${kcmDoneS.toFixed(1)} s (polled every 5 s; ${kcmAtReady}/${n} when all were Ready; ${kcmRate(kcmSeries, n)}); settled at ${settledS.toFixed(1)} s`);
    const clusterSettleS = Object.entries(settleCpu).reduce((a, [k, v]) => (k === 'operator' ? a : a + v), 0);
    console.log(
      `to settle: CPU from the first create until settled (${settledS.toFixed(1)} s): kube-apiserver ${((1000 * (settleCpu['kube-apiserver'] ?? 0)) / n).toFixed(1)} ms per PaddleService, ` +
        `the cluster processes ${clusterSettleS.toFixed(1)} CPU-s (${((1000 * clusterSettleS) / n).toFixed(1)} ms per PaddleService), the operator ${(settleCpu.operator ?? 0).toFixed(1)} CPU-s (${((1000 * (settleCpu.operator ?? 0)) / n).toFixed(1)} ms per PaddleService)`,
    );
    console.log(`writes/PS: every write the API server served until settled, per PaddleService: ${settleWrites.map(([k, c]) => `${k} ${(c / n).toFixed(2)}`).join(', ')}`);
    console.log(
      `no-op    : a fresh operator (--resync-seconds ${RESYNC_S}) over the converged objects: ${noop.restart.total} writes over its first reconcile of each (a restart)` +
        `${noop.restart.detail ? ` [${noop.restart.detail}]` : ''}, then ${noop.resync.total} writes over ${noop.resyncReconciles} resync reconciles ` +
        `(${(noop.resync.total / n).toFixed(3)} per PaddleService; target 0)${noop.resync.detail ? ` [${noop.resync.detail}]` : ''}`,
    );
    for (const line of profileLines) console.log(line);
    // Load-independent figures: the API server's CPU per PaddleService converged, in units of its own CPU per create.
    console.log(`per PS   : kube-apiserver ${apiserverMsPerPs.toFixed(1)} ms CPU per PaddleService converged (${(apiserverMsPerPs / createCpuMs).toFixed(1)}x its CPU per create)`);
    const serverS = byComponent.reduce((a, [, , sec]) => a + sec, 0);
    console.log(`by whom  : the API server's writes and the seconds it spent serving them (request durations, summed: ${serverS.toFixed(0)} s), by the component that made them: ${byComponent.map(([who, c, sec]) => `${who} ${c} (${(c / n).toFixed(1)}/PS, ${((100 * sec) / serverS).toFixed(0)} %)`).join('; ')}`);
    console.log(`load     : 1-min load average ${load0.toFixed(2)} before the creates, ${load1.toFixed(2)} at convergence (2 cores)`);
    console.log(`RSS      : ${mem.rss} MB now, ${Math.max(peakRss, mem.peak)} MB peak (target <= ${TARGET_RSS_MB} MB: ${(Math.max(peakRss, mem.peak) / TARGET_RSS_MB).toFixed(2)}x); ${heap}; node flags: ${NODE_ARGS.join(' ') || 'none'}, MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX}`);
  } finally {
    await watch.stop();
    await deleteTestNamespace(clients, ns);
  }
}

const WRITE_SERIES = 'paddle_operator_api_requests_total{';

/**
 * The write series (verb other than get/list, resource other than leases: lease renewals of
 * leader election are not per-PaddleService work) of one scrape, by series.
 */
function writeSeries(text: string): Map<string, number> {
  return new Map(
    text
      .split('\n')
      .filter((l) => l.startsWith(WRITE_SERIES) && !/verb="(get|list)"/.test(l) && !/resource="leases"/.test(l))
      .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))] as [string, number]),
  );
}

/**
 * Writes for PaddleServices between two scrapes, in total and as "verb resource +n" for every
 * series that grew. Both from the same two scrapes: one scrape per reading, so a lease renewal
 * between the reads of separate counters cannot skew the difference (it once read -1).
 */
function writesBetween(before: string, after: string): { total: number; detail: string } {
  const a = writeSeries(before);
  let total = 0;
  const out: string[] = [];
  for (const [k, v] of writeSeries(after)) {
    const d = v - (a.get(k) ?? 0);
    total += d;
    if (d > 0) out.push(`${k.replace('paddle_operator_api_requests_total', '')} +${d}`);
  }
  return { total, detail: out.join(', ') };
}

/**
 * The no-op check: a fresh operator with a short resync over the converged PaddleServices. Its
 * first reconcile of each (a restart: nothing remembered but what the caches hold) and then its
 * resyncs over two periods must write nothing.
 */
async function noopResyncs(n: number): Promise<{ restart: { total: number; detail: string }; resync: { total: number; detail: string }; resyncReconciles: number }> {
  const op = await startOperator({ identity: `bench-${n}-noop`, leaseName: `bench-operator-${n}-noop`, compiled: true, nodeArgs: NODE_ARGS, extraArgs: ['--resync-seconds', String(RESYNC_S)] });
  try {
    await waitUntilLeading(op);
    // Every PaddleService reconciled once and nothing left to do.
    await waitFor(async () => {
      const text = await op.metrics();
      const done = sumMetric(text, 'paddle_operator_reconcile_total', {});
      const busy = sumMetric(text, 'paddle_operator_workqueue_depth', {}) + sumMetric(text, 'paddle_operator_active_reconciles', {}) + sumMetric(text, 'paddle_operator_api_requests_in_flight', {});
      return { done: done >= n && busy === 0, seen: { done, busy } };
    }, 300_000, `the no-op operator's first reconcile of ${n} PaddleServices`);
    const text0 = await op.metrics();
    await new Promise((r) => setTimeout(r, 2 * RESYNC_S * 1000 + 2_000));
    const text1 = await op.metrics();
    return {
      restart: writesBetween('', text0),
      resync: writesBetween(text0, text1),
      resyncReconciles: sumMetric(text1, 'paddle_operator_reconcile_total', {}) - sumMetric(text0, 'paddle_operator_reconcile_total', {}),
    };
  } finally {
    await op.stop();
  }
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
  // The operator process inherits this environment.
  process.env.MALLOC_ARENA_MAX = MALLOC_ARENA_MAX;
  const clients = makeClients();
  for (const n of sizes.length > 0 ? sizes : [200, 1000]) {
    // Before the operator starts: its first lists would otherwise load the objects being deleted.
    await waitForEarlierRuns(clients);
    // A fresh operator per size, so RSS and write counts are per run.
    // The built operator (`make build-ts`: the bundle), as the image runs it: RSS without tsx's compiler.
    const op = await startOperator({ identity: `bench-${n}`, leaseName: `bench-operator-${n}`, compiled: true, nodeArgs: NODE_ARGS, extraArgs: ['--resync-seconds', String(CONVERGE_RESYNC_S)] });
    try {
      await runOnce(clients, op, n);
    } finally {
      await op.stop();
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
