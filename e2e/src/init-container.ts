// The kubelet's part for a model pod's init containers, on loopback (kwok runs no containers):
// after kwok has played its own pod lifecycle to Running, run each init container's command as
// a local process, with the pod's volumes materialized into a scratch directory (the same
// directory the sidecar process then gets, so an emptyDir the init container fills is what the
// serving container reads), its in-container paths mapped onto that directory, and its
// environment resolved; then write what the kubelet would into the pod's status: the init
// container terminated with its exit code and the termination message it wrote to its
// terminationMessagePath, and, when it failed, the pod back to Pending with Initialized=False
// (no later kwok stage matches that state, so it stays). The one command known here is the
// model-fetch container's `paddle-model`, run from this checkout (native/lib/cli/main.ts).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { MODEL_FETCH } from '../../crds/src/index.js';
import type { Clients } from './kube.js';
import { REPO_ROOT } from './paths.js';
import { localPathFor, materializeVolume, resolveEnv } from './sidecar-pod.js';

export interface InitRun {
  container: string;
  exitCode: number;
  /** What the container wrote to its terminationMessagePath. */
  message: string;
  output: string;
}

export interface InitContainersResult {
  /** The scratch directory standing in for the pod's volumes (volumes/<name>). */
  root: string;
  /** Local directory of each volume an init container mounted, by volume name. */
  volumes: Record<string, string>;
  runs: InitRun[];
}

const COMMANDS: Record<string, string> = { [MODEL_FETCH.command]: join(REPO_ROOT, 'native/lib/cli/main.ts') };

function runLocal(container: V1Container, args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  const entry = COMMANDS[container.command?.[0] ?? ''];
  if (!entry || (container.command?.length ?? 0) !== 1) throw new Error(`init container ${container.name}: command ${JSON.stringify(container.command)} is not one this harness runs`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 128 + 9 : 1), output }));
  });
}

/** What the kubelet writes when an init container ends. */
async function reportTermination(clients: Clients, namespace: string, podName: string, container: V1Container, run: InitRun, startedAt: Date): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const pod = await clients.core.readNamespacedPod({ name: podName, namespace });
    const status = pod.status ?? {};
    const others = (status.initContainerStatuses ?? []).filter((s) => s.name !== container.name);
    const failed = run.exitCode !== 0;
    status.initContainerStatuses = [
      ...others,
      {
        name: container.name,
        image: container.image ?? '',
        imageID: '',
        ready: !failed,
        restartCount: 0,
        started: false,
        state: { terminated: { exitCode: run.exitCode, reason: failed ? 'Error' : 'Completed', message: run.message, startedAt, finishedAt: new Date() } },
      },
    ];
    if (failed) {
      status.phase = 'Pending';
      status.conditions = (status.conditions ?? []).map((c) =>
        c.type === 'Initialized' || c.type === 'Ready' || c.type === 'ContainersReady'
          ? { ...c, status: 'False', reason: c.type === 'Initialized' ? 'ContainersNotInitialized' : 'ContainersNotReady', message: `containers with incomplete status: [${container.name}]`, lastTransitionTime: new Date() }
          : c,
      );
      status.containerStatuses = (status.containerStatuses ?? []).map((c) => ({ ...c, ready: false, started: false, state: { waiting: { reason: 'PodInitializing' } } }));
    }
    try {
      await clients.core.replaceNamespacedPodStatus({ name: podName, namespace, body: { ...pod, status } });
      return;
    } catch (err) {
      // kwok or the controllers wrote in between: read again.
      if ((err as { code?: number }).code !== 409 || attempt >= 10) throw err;
    }
  }
}

/** Runs the pod's init containers in order (stopping at the first failure, as the kubelet does). */
export async function runInitContainersForPod(opts: { clients: Clients; namespace: string; pod: string; volumeTimeoutMs?: number }): Promise<InitContainersResult> {
  const { clients, namespace } = opts;
  const pod: V1Pod = await clients.core.readNamespacedPod({ name: opts.pod, namespace });
  const root = mkdtempSync(join(tmpdir(), `init-pod-${opts.pod}-`));
  const volumes: Record<string, string> = {};
  const runs: InitRun[] = [];
  for (const container of pod.spec?.initContainers ?? []) {
    const mounts: Array<{ mountPath: string; local: string }> = [];
    for (const m of container.volumeMounts ?? []) {
      const volume = pod.spec?.volumes?.find((v) => v.name === m.name);
      if (!volume) throw new Error(`volumeMount ${m.name} names no volume of pod ${opts.pod}`);
      const local = volumes[m.name] ?? join(root, 'volumes', m.name);
      if (!volumes[m.name]) {
        await materializeVolume(clients, pod, volume, local, opts.volumeTimeoutMs ?? 180_000);
        volumes[m.name] = local;
      }
      mounts.push({ mountPath: m.mountPath, local: m.subPath ? join(local, m.subPath) : local });
    }
    const terminationFile = join(root, `termination-${container.name}`);
    const terminationPath = container.terminationMessagePath ?? '/dev/termination-log';
    mounts.push({ mountPath: terminationPath, local: terminationFile });
    mkdirSync(root, { recursive: true });
    // Every argument that is an in-container path becomes the local copy's path.
    const args = (container.args ?? []).map((a) => (a.startsWith('/') ? (localPathFor(a, mounts) ?? a) : a));
    const startedAt = new Date();
    const { code, output } = await runLocal(container, args, resolveEnv(container, pod));
    let message = '';
    try {
      message = readFileSync(terminationFile, 'utf8');
    } catch {
      // nothing written: the kubelet reports an empty message
    }
    const run = { container: container.name, exitCode: code, message, output };
    runs.push(run);
    await reportTermination(clients, namespace, opts.pod, container, run, startedAt);
    if (code !== 0) break;
  }
  return { root, volumes, runs };
}
