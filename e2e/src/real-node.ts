// The e2e cluster's real node (e2e/cluster/node-lib.sh): what cluster-up recorded about it, HTTPS
// requests to pod IPs through the node's CONNECT proxy (the pods live in the node's own network
// namespace; the proxy is a unix socket in the cluster directory), and the kernel's view of a
// container (its processes, cgroup memory limit, credentials, mounts) read from the host.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { CLUSTER_DIR, parseEnvFile } from './paths.js';

export interface RealNode {
  /** The Node object's name. */
  name: string;
  /** The sidecar image loaded into the node's containerd (built by images/build.sh). */
  sidecarImage: string;
  /** The unix socket of the node's HTTP CONNECT proxy. */
  proxySocket: string;
  /** The node's cgroup parent (kubelet cgroupRoot) in every hierarchy. */
  cgroupRoot: string;
}

/** Scheduling onto the real node: its label and the toleration of its taint. */
export const REAL_NODE_SELECTOR = { 'paddle.io/node': 'real' };
export const REAL_NODE_TOLERATION = { key: 'paddle.io/real-node', operator: 'Exists' as const, effect: 'NoSchedule' as const };

/**
 * The running cluster's real node. Throws (the suite fails, loudly) when the cluster runs none:
 * a machine that cannot run one must say so, not pass without it.
 */
export function realNode(): RealNode {
  const envFile = join(CLUSTER_DIR, 'env');
  if (!existsSync(envFile)) throw new Error(`${envFile} missing: run make cluster-up`);
  const env = parseEnvFile(readFileSync(envFile, 'utf8'));
  if (!env.REAL_NODE || !env.NODE_PROXY_SOCKET || !env.SIDECAR_IMAGE) {
    throw new Error(
      'the e2e cluster runs NO real node (cluster-up with E2E_REAL_NODE=0, or it could not start one): ' +
        'the real-node suites cannot pass without one; see make cluster-up output',
    );
  }
  const cgroup = readFileSync(join(CLUSTER_DIR, 'node', 'kubelet.yaml'), 'utf8').match(/^cgroupRoot: \/(\S+)$/m)?.[1];
  if (!cgroup) throw new Error('kubelet.yaml names no cgroupRoot');
  return { name: env.REAL_NODE, sidecarImage: env.SIDECAR_IMAGE, proxySocket: env.NODE_PROXY_SOCKET, cgroupRoot: cgroup };
}

/** A byte stream to ip:port inside the node's network namespace (HTTP CONNECT over the unix socket). */
export function tunnel(proxySocket: string, host: string, port: number, timeoutMs = 60_000): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: proxySocket, method: 'CONNECT', path: `${host}:${port}`, timeout: timeoutMs });
    req.on('connect', (res: IncomingMessage, socket) => {
      if (res.statusCode === 200) resolve(socket);
      else {
        socket.destroy();
        reject(new Error(`CONNECT ${host}:${port}: ${res.statusCode} ${res.statusMessage}`));
      }
    });
    req.on('timeout', () => req.destroy(new Error(`CONNECT ${host}:${port}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface PodRequest {
  method: string;
  path: string;
  body?: unknown;
  /** Trusted CA (PEM); the server certificate must name `servername`. */
  ca: string | Buffer;
  servername: string;
  /** Client certificate and key for mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface PodResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One HTTPS request to a pod IP on the real node (a fresh tunnel and TLS session per call). */
export async function podRequest(node: RealNode, podIP: string, port: number, r: PodRequest): Promise<PodResponse> {
  const raw = await tunnel(node.proxySocket, podIP, port);
  const payload = r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  return new Promise((resolve, reject) => {
    // A bound on a hang (no answer at all), not on how fast an answer is.
    const timeoutMs = r.timeoutMs ?? 120_000;
    const req = httpRequest(
      {
        method: r.method,
        path: r.path,
        headers: {
          host: `${r.servername}:${port}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
          ...r.headers,
        },
        timeout: timeoutMs,
        createConnection: () => tlsConnect({ socket: raw, ca: r.ca, servername: r.servername, cert: r.cert, key: r.key }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${r.method} ${r.path}: no answer in ${timeoutMs} ms`)));
    req.on('error', (err) => {
      raw.destroy();
      reject(err);
    });
    req.end(payload);
  });
}

/** The cgroup directories of a container (cgroupfs driver: .../pod<uid>/<container id>) in one hierarchy. */
export function containerCgroup(node: RealNode, hierarchy: string, containerId: string): string | undefined {
  const id = containerId.replace(/^[a-z]+:\/\//, '');
  const root = join('/sys/fs/cgroup', hierarchy, node.cgroupRoot);
  const walk = (dir: string, depth: number): string | undefined => {
    if (depth > 5) return undefined;
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return undefined;
    }
    if (entries.includes(id)) return join(dir, id);
    for (const e of entries) {
      const found = walk(join(dir, e), depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return walk(root, 0);
}

export interface ContainerProcess {
  pid: number;
  uid: number;
  gid: number;
  /** Effective capability mask (hex). */
  capEff: string;
  /** NoNewPrivs flag. */
  noNewPrivs: boolean;
  /** Options of the mount at / as the process sees it (e.g. "ro,relatime"). */
  rootMountOptions: string;
  /** The cgroup's memory.limit_in_bytes (v1). */
  memoryLimitBytes: number;
}

/** The kernel's view of a container's first process, read from /proc and /sys/fs/cgroup. */
export function containerProcess(node: RealNode, containerId: string): ContainerProcess {
  const memDir = containerCgroup(node, 'memory', containerId);
  if (!memDir) throw new Error(`no memory cgroup for container ${containerId} under /sys/fs/cgroup/memory/${node.cgroupRoot}`);
  const pids = readFileSync(join(memDir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  const pid = pids[0];
  if (pid === undefined) throw new Error(`container ${containerId} has no process in ${memDir}`);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => status.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1] ?? '';
  const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[4] === '/')
    .pop();
  return {
    pid,
    uid: Number(field('Uid').split(/\s+/)[1]),
    gid: Number(field('Gid').split(/\s+/)[1]),
    capEff: field('CapEff'),
    noNewPrivs: field('NoNewPrivs') === '1',
    rootMountOptions: rootMount?.[5] ?? '',
    memoryLimitBytes: Number(readFileSync(join(memDir, 'memory.limit_in_bytes'), 'utf8').trim()),
  };
}
