// paddle-operator entry point.
//
// Flags (each also read from the environment variable shown):
//   --kubeconfig PATH           KUBECONFIG        default: in-cluster service account, else ~/.kube/config
//   --sidecar-image IMAGE       PADDLE_SIDECAR_IMAGE   image for pods whose spec.runtime.image is unset
//   --cluster-domain DOMAIN     CLUSTER_DOMAIN    default cluster.local
//   --workers N                 OPERATOR_WORKERS  default 4
//   --resync-seconds S          OPERATOR_RESYNC_SECONDS  default 300
//   --ops-port PORT             OPERATOR_OPS_PORT  /healthz /readyz /metrics, default 8080 (0: any)
//   --leader-elect / --no-leader-elect   OPERATOR_LEADER_ELECT (true)
//   --lease-namespace NS        POD_NAMESPACE     default: paddle-operator-system
//   --lease-name NAME           OPERATOR_LEASE_NAME  default: paddle-operator-leader
//   --lease-duration-seconds S  OPERATOR_LEASE_DURATION_SECONDS  default 15
//   --renew-deadline-seconds S  OPERATOR_RENEW_DEADLINE_SECONDS  default 10
//   --retry-period-seconds S    OPERATOR_RETRY_PERIOD_SECONDS    default 2
//   --identity ID               POD_NAME          default: hostname + pid
//   --log-level LEVEL           OPERATOR_LOG_LEVEL  default info
//   --baseline-tune-interval-seconds S  OPERATOR_BASELINE_TUNE_INTERVAL_SECONDS  default 60
//   --baseline-max-step F       OPERATOR_BASELINE_MAX_STEP  default 1.5 (factor per move)

import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { DEFAULT_OPERATOR_CONFIG, type OperatorConfig } from './builders/common.js';
import { Controller } from './controller.js';
import { describeError } from './errors.js';
import { KubeEventRecorder } from './events.js';
import { KubeClient } from './kube-client.js';
import { LeaderElector } from './leader-election.js';
import { KubeLeaseStore } from './lease-store.js';
import { OperatorMetrics } from './metrics.js';
import { createOpsServer } from './server.js';

export interface OperatorOptions {
  kubeconfig?: string;
  config: OperatorConfig;
  workers: number;
  resyncSeconds: number;
  opsPort: number;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
  identity: string;
  logLevel: string;
}

export class UsageError extends Error {}
/** `--help` / `-h` was given: print `usage()` and exit 0. */
export class HelpRequested extends Error {}

interface FlagSpec {
  /** The env variable read when the flag is absent. */
  env: string;
  /** The value used when neither is set (absent: none, or one computed at run time). */
  dflt?: string;
  /** What `--help` shows as the default when it is not `dflt` itself. */
  shown?: string;
  help: string;
}

/** Every flag: the parser reads env names and defaults from here, and `--help` prints it. */
const FLAGS = {
  kubeconfig: { env: 'KUBECONFIG', shown: '~/.kube/config, else in-cluster', help: 'kubeconfig file to use' },
  'sidecar-image': { env: 'PADDLE_SIDECAR_IMAGE', dflt: DEFAULT_OPERATOR_CONFIG.sidecarImage, help: 'sidecar image for PaddleServices that name none' },
  'cluster-domain': { env: 'CLUSTER_DOMAIN', dflt: DEFAULT_OPERATOR_CONFIG.clusterDomain, help: "the cluster's DNS domain (certificate DNS names)" },
  workers: { env: 'OPERATOR_WORKERS', dflt: '4', help: 'concurrent reconciles' },
  'resync-seconds': { env: 'OPERATOR_RESYNC_SECONDS', dflt: '300', help: 'every PaddleService is reconciled again after this long' },
  'ops-port': { env: 'OPERATOR_OPS_PORT', dflt: '8080', help: '/healthz, /readyz and /metrics (0: any free port)' },
  'leader-elect': { env: 'OPERATOR_LEADER_ELECT', dflt: 'true', help: 'take a coordination.k8s.io Lease before reconciling (--no-leader-elect: off)' },
  'lease-namespace': { env: 'POD_NAMESPACE', dflt: 'paddle-operator-system', help: "the Lease's namespace" },
  'lease-name': { env: 'OPERATOR_LEASE_NAME', dflt: 'paddle-operator-leader', help: "the Lease's name" },
  'lease-duration-seconds': { env: 'OPERATOR_LEASE_DURATION_SECONDS', dflt: '15', help: 'a standby takes over this long after the leader stops renewing' },
  'renew-deadline-seconds': { env: 'OPERATOR_RENEW_DEADLINE_SECONDS', dflt: '10', help: 'the leader gives up leading when it cannot renew within this' },
  'retry-period-seconds': { env: 'OPERATOR_RETRY_PERIOD_SECONDS', dflt: '2', help: 'how often the Lease is renewed or tried' },
  identity: { env: 'POD_NAME', shown: 'hostname-pid', help: 'holder identity written into the Lease' },
  'log-level': { env: 'OPERATOR_LOG_LEVEL', dflt: 'info', help: 'debug, info, warn or error' },
  'baseline-tune-interval-seconds': {
    env: 'OPERATOR_BASELINE_TUNE_INTERVAL_SECONDS',
    dflt: String(DEFAULT_OPERATOR_CONFIG.baselineTuning.intervalSeconds),
    help: "the published breaker baseline moves at most once per this many seconds",
  },
  'baseline-max-step': {
    env: 'OPERATOR_BASELINE_MAX_STEP',
    dflt: String(DEFAULT_OPERATOR_CONFIG.baselineTuning.maxStep),
    help: 'one move of the published breaker baseline changes it by at most this factor (> 1)',
  },
} satisfies Record<string, FlagSpec>;
type Flag = keyof typeof FLAGS;

/** The `--help` text. */
export function usage(): string {
  const rows = Object.entries(FLAGS).map(([flag, f]: [string, FlagSpec]) => `  --${flag} VALUE\n      ${f.help}\n      env ${f.env}; default ${f.shown ?? f.dflt ?? 'none'}`);
  return ['usage: paddle-operator [--flag VALUE | --flag=VALUE]...', '', 'Flags beat environment variables, which beat defaults.', '', ...rows, ''].join('\n');
}

/** Parses argv and env into options; throws UsageError with a clear message on bad input. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): OperatorOptions {
  if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequested();
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (arg === '--leader-elect' || arg === '--no-leader-elect') flags.set('leader-elect', String(arg === '--leader-elect'));
    else {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`flag ${arg} needs a value`);
      flags.set(arg.slice(2), value);
      i++;
    }
  }
  for (const f of flags.keys()) if (!Object.hasOwn(FLAGS, f)) throw new UsageError(`unknown flag --${f} (--help lists them)`);
  const spec = (flag: Flag): FlagSpec => FLAGS[flag];
  const str = (flag: Flag): string | undefined => flags.get(flag) ?? env[spec(flag).env] ?? spec(flag).dflt;
  const int = (flag: Flag, min: number): number => {
    const raw = str(flag);
    const n = Number(raw === undefined || raw === '' ? spec(flag).dflt : raw);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} (${spec(flag).env}) must be an integer >= ${min}, got "${raw}"`);
    return n;
  };
  const maxStepRaw = str('baseline-max-step');
  const maxStep = Number(maxStepRaw);
  if (!Number.isFinite(maxStep) || maxStep <= 1) throw new UsageError(`--baseline-max-step (${FLAGS['baseline-max-step'].env}) must be a number > 1, got "${maxStepRaw}"`);
  const leaderElectRaw = str('leader-elect');
  if (leaderElectRaw !== 'true' && leaderElectRaw !== 'false') throw new UsageError(`${FLAGS['leader-elect'].env} must be true or false, got "${leaderElectRaw}"`);
  const kubeconfig = str('kubeconfig');
  const opts: OperatorOptions = {
    ...(kubeconfig ? { kubeconfig } : {}),
    config: {
      sidecarImage: str('sidecar-image') as string,
      clusterDomain: str('cluster-domain') as string,
      baselineTuning: { intervalSeconds: int('baseline-tune-interval-seconds', 0), maxStep },
    },
    workers: int('workers', 1),
    resyncSeconds: int('resync-seconds', 1),
    opsPort: int('ops-port', 0),
    leaderElect: leaderElectRaw === 'true',
    leaseNamespace: str('lease-namespace') as string,
    leaseName: str('lease-name') as string,
    leaseDurationSeconds: int('lease-duration-seconds', 2),
    renewDeadlineSeconds: int('renew-deadline-seconds', 1),
    retryPeriodSeconds: int('retry-period-seconds', 1),
    identity: str('identity') ?? `${hostname()}-${process.pid}`,
    logLevel: str('log-level') as string,
  };
  if (!(opts.retryPeriodSeconds < opts.renewDeadlineSeconds && opts.renewDeadlineSeconds < opts.leaseDurationSeconds)) {
    throw new UsageError('need retry-period < renew-deadline < lease-duration');
  }
  if (!['debug', 'info', 'warn', 'error'].includes(opts.logLevel)) throw new UsageError(`--log-level must be debug, info, warn or error`);
  return opts;
}

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export async function runOperator(opts: OperatorOptions): Promise<{ stop: () => Promise<void>; port: number }> {
  const log = pino({ level: opts.logLevel, base: { service: 'paddle-operator', identity: opts.identity } });
  const metrics = new OperatorMetrics();
  const client = new KubeClient(loadKubeConfig(opts.kubeconfig));
  client.onCall((verb, resource, status, seconds) => {
    metrics.apiRequests.inc({ verb, resource, code: String(status) });
    metrics.apiRequestDuration.observe({ verb }, seconds);
  });
  metrics.apiInFlight = () => client.inFlight;
  const events = new KubeEventRecorder(client, 'paddle-operator', opts.identity, (err) => log.warn({ err: describeError(err) }, 'event not recorded'));
  const controller = new Controller({
    client,
    config: opts.config,
    events,
    metrics,
    log,
    workers: opts.workers,
    resyncMs: opts.resyncSeconds * 1000,
  });

  let elector: LeaderElector | undefined;
  const server = createOpsServer(metrics, {
    ready: () => {
      if (elector && !elector.isLeader) return { ok: true, detail: `standby; leader is ${elector.observedHolder || 'unknown'}` };
      return controller.synced ? { ok: true, detail: 'leading; caches synced' } : { ok: false, detail: 'caches not synced yet' };
    },
  });
  await new Promise<void>((resolve) => server.listen(opts.opsPort, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.opsPort;
  log.info({ port }, 'ops server listening (/healthz /readyz /metrics)');

  const lead = async () => {
    metrics.isLeader.set(1);
    log.info({}, 'leading: starting controller');
    await controller.start();
  };
  const standDown = async () => {
    metrics.isLeader.set(0);
    log.warn({}, 'lost leadership: stopping controller');
    await controller.stop();
  };

  if (opts.leaderElect) {
    elector = new LeaderElector({
      identity: opts.identity,
      leaseDurationMs: opts.leaseDurationSeconds * 1000,
      renewDeadlineMs: opts.renewDeadlineSeconds * 1000,
      retryPeriodMs: opts.retryPeriodSeconds * 1000,
      store: new KubeLeaseStore(client, opts.leaseNamespace, opts.leaseName),
      onStartedLeading: lead,
      onStoppedLeading: standDown,
      onNewLeader: (id) => log.info({ leader: id ?? null }, 'observed leader'),
      onError: (err) => log.warn({ err: describeError(err) }, 'leader election: lease call failed'),
    });
    elector.start();
  } else {
    await lead();
  }

  const stop = async () => {
    if (elector) await elector.stop();
    else await controller.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    log.info({}, 'stopped');
  };
  return { stop, port };
}

async function main(): Promise<void> {
  let opts: OperatorOptions;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(usage());
      return;
    }
    if (err instanceof UsageError) {
      console.error(`paddle-operator: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const { stop } = await runOperator(opts);
  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`paddle-operator: ${sig}: releasing the lease and stopping`);
    stop()
      .catch((err: unknown) => console.error(`paddle-operator: stop failed: ${describeError(err)}`))
      .finally(() => process.exit(0));
  };
  // A stray rejection is logged, never fatal: the controller keeps running.
  process.on('unhandledRejection', (err) => console.error(`paddle-operator: unhandled rejection: ${describeError(err)}`));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(`paddle-operator: ${describeError(err)}`);
    process.exitCode = 1;
  });
}
