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

/** Every flag: name, the env variable that sets it when the flag is absent, default, meaning. */
const FLAGS: ReadonlyArray<readonly [flag: string, env: string, dflt: string, help: string]> = [
  ['kubeconfig', 'KUBECONFIG', '~/.kube/config, else in-cluster', 'kubeconfig file to use'],
  ['sidecar-image', 'PADDLE_SIDECAR_IMAGE', DEFAULT_OPERATOR_CONFIG.sidecarImage, 'sidecar image for PaddleServices that name none'],
  ['cluster-domain', 'CLUSTER_DOMAIN', DEFAULT_OPERATOR_CONFIG.clusterDomain, "the cluster's DNS domain (certificate DNS names)"],
  ['workers', 'OPERATOR_WORKERS', '4', 'concurrent reconciles'],
  ['resync-seconds', 'OPERATOR_RESYNC_SECONDS', '300', 'every PaddleService is reconciled again after this long'],
  ['ops-port', 'OPERATOR_OPS_PORT', '8080', '/healthz, /readyz and /metrics (0: any free port)'],
  ['leader-elect', 'OPERATOR_LEADER_ELECT', 'true', 'take a coordination.k8s.io Lease before reconciling (--no-leader-elect: off)'],
  ['lease-namespace', 'POD_NAMESPACE', 'paddle-operator-system', "the Lease's namespace"],
  ['lease-name', 'OPERATOR_LEASE_NAME', 'paddle-operator-leader', "the Lease's name"],
  ['lease-duration-seconds', 'OPERATOR_LEASE_DURATION_SECONDS', '15', 'a standby takes over this long after the leader stops renewing'],
  ['renew-deadline-seconds', 'OPERATOR_RENEW_DEADLINE_SECONDS', '10', 'the leader gives up leading when it cannot renew within this'],
  ['retry-period-seconds', 'OPERATOR_RETRY_PERIOD_SECONDS', '2', 'how often the Lease is renewed or tried'],
  ['identity', 'POD_NAME', 'hostname-pid', 'holder identity written into the Lease'],
  ['log-level', 'OPERATOR_LOG_LEVEL', 'info', 'debug, info, warn or error'],
];

/** The `--help` text. */
export function usage(): string {
  const rows = FLAGS.map(([flag, env, dflt, help]) => `  --${flag} VALUE\n      ${help}\n      env ${env}; default ${dflt}`);
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
  const known = new Set(FLAGS.map(([flag]) => flag));
  for (const f of flags.keys()) if (!known.has(f)) throw new UsageError(`unknown flag --${f} (--help lists them)`);
  const str = (flag: string, envName: string, dflt?: string) => flags.get(flag) ?? env[envName] ?? dflt;
  const int = (flag: string, envName: string, dflt: number, min: number) => {
    const raw = str(flag, envName);
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} (${envName}) must be an integer >= ${min}, got "${raw}"`);
    return n;
  };
  const leaderElectRaw = str('leader-elect', 'OPERATOR_LEADER_ELECT', 'true');
  if (leaderElectRaw !== 'true' && leaderElectRaw !== 'false') throw new UsageError(`OPERATOR_LEADER_ELECT must be true or false, got "${leaderElectRaw}"`);
  const opts: OperatorOptions = {
    ...(str('kubeconfig', 'KUBECONFIG') ? { kubeconfig: str('kubeconfig', 'KUBECONFIG') as string } : {}),
    config: {
      sidecarImage: str('sidecar-image', 'PADDLE_SIDECAR_IMAGE', DEFAULT_OPERATOR_CONFIG.sidecarImage) as string,
      clusterDomain: str('cluster-domain', 'CLUSTER_DOMAIN', DEFAULT_OPERATOR_CONFIG.clusterDomain) as string,
    },
    workers: int('workers', 'OPERATOR_WORKERS', 4, 1),
    resyncSeconds: int('resync-seconds', 'OPERATOR_RESYNC_SECONDS', 300, 1),
    opsPort: int('ops-port', 'OPERATOR_OPS_PORT', 8080, 0),
    leaderElect: leaderElectRaw === 'true',
    leaseNamespace: str('lease-namespace', 'POD_NAMESPACE', 'paddle-operator-system') as string,
    leaseName: str('lease-name', 'OPERATOR_LEASE_NAME', 'paddle-operator-leader') as string,
    leaseDurationSeconds: int('lease-duration-seconds', 'OPERATOR_LEASE_DURATION_SECONDS', 15, 2),
    renewDeadlineSeconds: int('renew-deadline-seconds', 'OPERATOR_RENEW_DEADLINE_SECONDS', 10, 1),
    retryPeriodSeconds: int('retry-period-seconds', 'OPERATOR_RETRY_PERIOD_SECONDS', 2, 1),
    identity: str('identity', 'POD_NAME', `${hostname()}-${process.pid}`) as string,
    logLevel: str('log-level', 'OPERATOR_LOG_LEVEL', 'info') as string,
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
  const server = createOpsServer(metrics.registry, {
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
