// A real sidecar process playing one (kwok) model pod. kwok runs no containers, so this does on
// loopback what the kubelet would do for the pod's one container: read the pod from the API;
// materialize its Secret / ConfigMap / projected / emptyDir volumes into a scratch directory
// (waiting, as the kubelet does, until the Secrets and ConfigMaps exist; the ServiceAccount
// token is a TokenRequest bound to the pod); resolve its env (the downward API's metadata.name /
// metadata.namespace); hand it that mounted token and CA as its in-cluster credentials (in a
// kubeconfig pointing at the loopback API server); and start sidecar/src/main.ts with the
// container's own args plus the flags that point the contract's in-container paths at the
// scratch copies. The one thing not read from the API is the model directory: no kubelet mounts
// the model volume (PVC, image, ConfigMap) here, so the caller names it. The serving port is
// picked by the OS (--port 0) and read from the sidecar's "serving" log line.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node';
import { dump } from 'js-yaml';
import { ENV, PATHS, type SidecarConfig } from '../../crds/src/index.js';
import type { Clients } from './kube.js';
import { isNotFound } from './kube.js';
import { REPO_ROOT, kubeconfigPath } from './paths.js';
import { waitFor } from './wait-for.js';

/** The operator's container name in model pods (operator/src/builders/deployment.ts). */
export const SIDECAR_CONTAINER = 'sidecar';

export interface SidecarPodOptions {
  clients: Clients;
  namespace: string;
  /** The pod this process plays. */
  pod: string;
  /** The directory the model volume would hold. */
  modelDir: string;
  /** Credentials: the pod's mounted ServiceAccount token (default) or the suite's kubeconfig. */
  credentials?: 'serviceAccount' | 'suite';
  /** How long to wait for the Secrets / ConfigMaps the pod mounts (default 180 s: cert-manager writes the TLS Secret). */
  volumeTimeoutMs?: number;
  /** How long to wait for the process to load the model and listen (default 180 s: tsx compiles the sources first). */
  startTimeoutMs?: number;
  /** Echo the sidecar's output to stderr as it comes (also E2E_SIDECAR_LOGS=1). */
  echo?: boolean;
}

export interface SidecarResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface SidecarPod {
  child: ChildProcess;
  pod: string;
  /** Loopback serving port (picked by the OS). */
  port: number;
  /** Whether it serves HTTPS (the pod mounts a TLS Secret). */
  tls: boolean;
  /** The DNS name its certificate was issued for (`<service>.<namespace>.svc`). */
  serverName: string;
  /** The scratch directory standing in for the pod's filesystem. */
  root: string;
  /** The SidecarConfig the operator rendered (as materialized from the ConfigMap). */
  config: SidecarConfig;
  /** Everything the process printed so far. */
  output(): string;
  /** One request to the serving port, trusting the pod's CA and checking serverName. */
  request(method: string, path: string, body?: unknown): Promise<SidecarResponse>;
  /** SIGTERM, SIGKILL after 15 s; resolves once the process is gone. Safe to call twice. */
  stop(): Promise<void>;
  /** stop() and remove the scratch directory. */
  dispose(): Promise<void>;
}

/** Where a path inside the container lives in the scratch directory (longest mount wins). */
export function localPathFor(containerPath: string, mounts: ReadonlyArray<{ mountPath: string; local: string }>): string | undefined {
  let best: { mountPath: string; local: string } | undefined;
  for (const m of mounts) {
    const prefix = m.mountPath.endsWith('/') ? m.mountPath : `${m.mountPath}/`;
    if (containerPath === m.mountPath || containerPath.startsWith(prefix)) {
      if (!best || m.mountPath.length > best.mountPath.length) best = m;
    }
  }
  if (!best) return undefined;
  return best.local + containerPath.slice(best.mountPath.length);
}

function decode(data: Record<string, string> | undefined): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

function plain(data: Record<string, string> | undefined): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'utf8')]));
}

/** Writes `files` (key -> bytes) into dir, through `items` (key -> path) when given. */
function writeKeys(dir: string, files: Record<string, Buffer>, items: Array<{ key: string; path: string }> | undefined, what: string): void {
  mkdirSync(dir, { recursive: true });
  const pairs = items && items.length > 0 ? items.map((i) => [i.key, i.path] as const) : Object.keys(files).map((k) => [k, k] as const);
  for (const [key, path] of pairs) {
    const bytes = files[key];
    if (!bytes) throw new Error(`${what} has no key ${JSON.stringify(key)} (has ${Object.keys(files).join(', ') || 'none'})`);
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes, { mode: 0o600 });
  }
}

async function readSecretFiles(clients: Clients, namespace: string, name: string): Promise<Record<string, Buffer> | undefined> {
  try {
    const s = await clients.core.readNamespacedSecret({ name, namespace });
    return { ...plain(s.stringData), ...decode(s.data) };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function readConfigMapFiles(clients: Clients, namespace: string, name: string): Promise<Record<string, Buffer> | undefined> {
  try {
    const cm = await clients.core.readNamespacedConfigMap({ name, namespace });
    return { ...plain(cm.data), ...decode(cm.binaryData) };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** A token of the pod's ServiceAccount bound to the pod, as the kubelet projects it. */
async function podToken(clients: Clients, pod: V1Pod, audience: string | undefined, expirationSeconds: number | undefined): Promise<string> {
  const namespace = pod.metadata?.namespace ?? '';
  const sa = pod.spec?.serviceAccountName ?? 'default';
  const tr = await clients.core.createNamespacedServiceAccountToken({
    name: sa,
    namespace,
    body: {
      spec: {
        audiences: audience ? [audience] : [],
        expirationSeconds: Math.max(600, expirationSeconds ?? 3600),
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' },
      },
    },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`no token issued for ServiceAccount ${namespace}/${sa}`);
  return token;
}

function fieldOf(pod: V1Pod, fieldPath: string | undefined): string {
  if (fieldPath === 'metadata.name') return pod.metadata?.name ?? '';
  if (fieldPath === 'metadata.namespace') return pod.metadata?.namespace ?? '';
  if (fieldPath === 'metadata.uid') return pod.metadata?.uid ?? '';
  if (fieldPath === 'spec.serviceAccountName') return pod.spec?.serviceAccountName ?? '';
  // metadata.labels['key'] / metadata.annotations['key'], as the kubelet resolves them.
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath ?? '');
  if (m) return (m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[m[2] ?? ''] ?? '';
  throw new Error(`downward API field ${JSON.stringify(fieldPath)} is not supported here`);
}

/** Materializes one volume into dir, waiting until what it names exists (kubelet behaviour). */
export async function materializeVolume(clients: Clients, pod: V1Pod, volume: V1Volume, dir: string, timeoutMs: number): Promise<void> {
  const namespace = pod.metadata?.namespace ?? '';
  const wait = async (what: string, read: () => Promise<Record<string, Buffer> | undefined>): Promise<Record<string, Buffer>> => {
    let files: Record<string, Buffer> | undefined;
    await waitFor(async () => {
      files = await read();
      return { done: files !== undefined, seen: `${what} not found` };
    }, timeoutMs, `${what} (mounted by volume ${volume.name})`, { intervalMs: 500 });
    return files ?? {};
  };
  const secret = async (name: string, items: Array<{ key: string; path: string }> | undefined) =>
    writeKeys(dir, await wait(`Secret ${namespace}/${name}`, () => readSecretFiles(clients, namespace, name)), items, `Secret ${name}`);
  const configMap = async (name: string, items: Array<{ key: string; path: string }> | undefined) =>
    writeKeys(dir, await wait(`ConfigMap ${namespace}/${name}`, () => readConfigMapFiles(clients, namespace, name)), items, `ConfigMap ${name}`);
  mkdirSync(dir, { recursive: true });
  if (volume.secret) await secret(volume.secret.secretName ?? '', volume.secret.items);
  else if (volume.configMap) await configMap(volume.configMap.name ?? '', volume.configMap.items);
  else if (volume.projected) {
    for (const source of volume.projected.sources ?? []) {
      if (source.secret) await secret(source.secret.name ?? '', source.secret.items);
      else if (source.configMap) await configMap(source.configMap.name ?? '', source.configMap.items);
      else if (source.serviceAccountToken) {
        const t = source.serviceAccountToken;
        writeKeys(dir, { token: Buffer.from(await podToken(clients, pod, t.audience, t.expirationSeconds)) }, [{ key: 'token', path: t.path }], 'token');
      } else if (source.downwardAPI) {
        for (const item of source.downwardAPI.items ?? []) {
          writeKeys(dir, { v: Buffer.from(fieldOf(pod, item.fieldRef?.fieldPath)) }, [{ key: 'v', path: item.path }], `downward API ${item.path}`);
        }
      } else {
        throw new Error(`volume ${volume.name}: projected source ${JSON.stringify(Object.keys(source))} is not supported here`);
      }
    }
  } else if (!volume.emptyDir) {
    throw new Error(`volume ${volume.name}: ${JSON.stringify(Object.keys(volume).filter((k) => k !== 'name'))} is not supported here`);
  }
}

/** The container's env with the downward API's fields (pod name, namespace, labels) resolved. */
export function resolveEnv(container: V1Container, pod: V1Pod): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) out[e.name] = fieldOf(pod, e.valueFrom.fieldRef.fieldPath);
    else throw new Error(`env ${e.name}: ${JSON.stringify(e.valueFrom)} is not supported here`);
  }
  return out;
}

/** Where the kubelet mounts a pod's ServiceAccount token, CA and namespace (in-cluster config). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The in-cluster config the pod would load (its mounted token and CA), as a kubeconfig: the
 * in-cluster host (KUBERNETES_SERVICE_HOST) is a Service IP nothing routes here, so the server
 * is the suite's API server URL.
 */
function inClusterKubeconfig(clients: Clients, saDir: string, namespace: string): string {
  const cluster = clients.kc.getCurrentCluster();
  if (!cluster) throw new Error('the suite kubeconfig has no current cluster');
  const token = readFileSync(join(saDir, 'token'), 'utf8');
  const ca = readFileSync(join(saDir, 'ca.crt'));
  return dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'in-cluster', cluster: { server: cluster.server, 'certificate-authority-data': ca.toString('base64') } }],
    users: [{ name: 'pod', user: { token } }],
    contexts: [{ name: 'pod', context: { cluster: 'in-cluster', user: 'pod', namespace } }],
    'current-context': 'pod',
  });
}

/** Starts the sidecar as pod `opts.pod`; resolves once it serves (its port known). */
export async function startSidecarForPod(opts: SidecarPodOptions): Promise<SidecarPod> {
  const { clients, namespace } = opts;
  const volumeTimeoutMs = opts.volumeTimeoutMs ?? 180_000;
  const pod = await clients.core.readNamespacedPod({ name: opts.pod, namespace });
  const container = pod.spec?.containers.find((c) => c.name === SIDECAR_CONTAINER) ?? pod.spec?.containers[0];
  if (!container) throw new Error(`pod ${namespace}/${opts.pod} has no containers`);

  const root = mkdtempSync(join(tmpdir(), `sidecar-pod-${opts.pod}-`));
  try {
    // Volumes, as the kubelet would mount them (the model volume: the caller's directory).
    const mounts: Array<{ mountPath: string; local: string }> = [];
    let modelMounted = false;
    for (const m of container.volumeMounts ?? []) {
      const volume = pod.spec?.volumes?.find((v) => v.name === m.name);
      if (!volume) throw new Error(`volumeMount ${m.name} names no volume of pod ${opts.pod}`);
      if (m.mountPath === PATHS.modelDir) {
        mounts.push({ mountPath: m.mountPath, local: opts.modelDir });
        modelMounted = true;
        continue;
      }
      const local = join(root, 'volumes', m.name);
      await materializeVolume(clients, pod, volume, local, volumeTimeoutMs);
      mounts.push({ mountPath: m.mountPath, local: m.subPath ? join(local, m.subPath) : local });
    }
    if (!modelMounted) mounts.push({ mountPath: PATHS.modelDir, local: opts.modelDir });
    const local = (p: string): string | undefined => localPathFor(p, mounts);

    // The config the operator rendered, with its in-container file references made local.
    const configPath = local(PATHS.configFile);
    if (!configPath) throw new Error(`pod ${opts.pod} mounts no config at ${PATHS.configFile}`);
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as SidecarConfig;
    const localConfig = structuredClone(config);
    if (localConfig.auth.jwksFile) localConfig.auth.jwksFile = local(localConfig.auth.jwksFile) ?? localConfig.auth.jwksFile;
    if (localConfig.auth.hmacSecretFile) localConfig.auth.hmacSecretFile = local(localConfig.auth.hmacSecretFile) ?? localConfig.auth.hmacSecretFile;
    if (localConfig.audit?.caFile) localConfig.audit.caFile = local(localConfig.audit.caFile) ?? localConfig.audit.caFile;
    const runConfig = join(root, 'config.json');
    writeFileSync(runConfig, JSON.stringify(localConfig, null, 2));

    const env = resolveEnv(container, pod);
    const kubeconfig = join(root, 'kubeconfig');
    if ((opts.credentials ?? 'serviceAccount') === 'serviceAccount') {
      const saDir = local(SERVICE_ACCOUNT_DIR);
      if (!saDir) throw new Error(`pod ${opts.pod} mounts no ServiceAccount token at ${SERVICE_ACCOUNT_DIR}: it could not report its status`);
      writeFileSync(kubeconfig, inClusterKubeconfig(clients, saDir, namespace), { mode: 0o600 });
    } else {
      writeFileSync(kubeconfig, readFileSync(kubeconfigPath()), { mode: 0o600 });
    }

    const tlsCert = local(PATHS.tlsCert);
    const tls = tlsCert !== undefined;
    const pathFlags: string[] = ['--model-dir', local(PATHS.modelDir) ?? opts.modelDir, '--config', runConfig];
    const publicKey = local(PATHS.publicKey);
    if (publicKey) pathFlags.push('--public-key', publicKey);
    if (tls) pathFlags.push('--tls-cert', tlsCert, '--tls-key', local(PATHS.tlsKey) ?? '', '--tls-ca', local(PATHS.tlsCa) ?? '');
    if (container.command && container.command.length > 0) throw new Error(`container ${container.name} overrides the image command: not supported here`);
    const args = [
      '--import',
      'tsx',
      join(REPO_ROOT, 'sidecar/src/main.ts'),
      ...(container.args ?? []),
      ...pathFlags,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--health-port',
      '0',
      // The gRPC front end's fixed default port (8001) would collide between pods played on one
      // machine; 0 turns it off (the suites here speak HTTPS).
      '--grpc-port',
      '0',
      '--dead-letter-file',
      join(root, 'dead-letter.log'),
    ];
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? root, ...env, KUBECONFIG: kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const echo = opts.echo ?? Boolean(process.env.E2E_SIDECAR_LOGS);
    let output = '';
    let port = 0;
    let pending = '';
    const feed = (d: Buffer) => {
      const text = d.toString('utf8');
      output += text;
      if (output.length > 1_000_000) output = output.slice(-500_000);
      if (echo) process.stderr.write(text.replace(/^/gm, `[sidecar ${opts.pod}] `));
      pending += text;
      let i;
      while ((i = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        try {
          const rec = JSON.parse(line) as { message?: string; port?: number };
          if (rec.message === 'serving' && typeof rec.port === 'number' && port === 0) port = rec.port;
        } catch {
          // not a JSON log line
        }
      }
    };
    child.stdout?.on('data', feed);
    child.stderr?.on('data', feed);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const gone = () => child.exitCode !== null || child.signalCode !== null;

    const stop = async (): Promise<void> => {
      if (gone()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    };

    try {
      await waitFor(() => ({ done: port > 0 || gone(), seen: output.slice(-1500) }), opts.startTimeoutMs ?? 180_000, `the sidecar for pod ${opts.pod} to listen`, { intervalMs: 200 });
    } catch (err) {
      await stop();
      throw err;
    }
    if (gone()) throw new Error(`the sidecar for pod ${opts.pod} exited (${child.exitCode ?? child.signalCode}):\n${output.slice(-3000)}`);

    const ca = tls ? readFileSync(local(PATHS.tlsCa) ?? '') : undefined;
    const serverName = `${env[ENV.serviceName] ?? ''}.${namespace}.svc`;
    const request = (method: string, path: string, body?: unknown): Promise<SidecarResponse> =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
        const headers: Record<string, string | number> = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
        const onResponse = (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        };
        // A bound on a hang (no answer at all), not on how fast an answer is.
        const common = { host: '127.0.0.1', port, path, method, headers, timeout: 120_000 };
        const req = tls ? httpsRequest({ ...common, ca, servername: serverName }, onResponse) : httpRequest(common, onResponse);
        req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 120 s`)));
        req.on('error', reject);
        req.end(payload);
      });

    return {
      child,
      pod: opts.pod,
      port,
      tls,
      serverName,
      root,
      config,
      output: () => output,
      request,
      stop,
      dispose: async () => {
        await stop();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}
