// The operator's model pods on the e2e cluster's real node (kubelet + containerd + runc, the
// sidecar image built by images/build.sh): nothing here plays the pod. The kubelet mounts the
// volumes, projects the ServiceAccount token, runs the container with the Deployment's
// securityContext and memory limit, and its probes decide Ready. The suite reads the kernel's
// view of the container from the host (uid, capabilities, read-only root, cgroup limit), sends
// inference over the pod's certificate (issued by cert-manager) through the node's CONNECT proxy,
// watches the pod's own report reach the PaddleService status, rolls the Deployment to a new model
// digest while a request loop runs (every request must succeed), runs a pod into its memory limit
// (OOMKilled, surfaced in the status), and serves mutual TLS to a client certificate that
// cert-manager issued.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { Condition, PaddleService } from '../../crds/src/index.js';
import { PORTS } from '../../crds/src/index.js';
import { REPO_ROOT, applyObject, createObject, createTestNamespace, deleteTestNamespace, makeClients, pinnedVersions, waitFor, waitForValue, type Clients } from '../src/index.js';
import { REAL_NODE_SELECTOR, REAL_NODE_TOLERATION, containerProcess, podRequest, realNode, type RealNode } from '../src/real-node.js';
import { E2E_ISSUER, createPaddleService, getPaddleService, mergePatchPaddleService, startOperator, type OperatorProcess } from '../../operator/test/e2e/harness.js';

const MLP = join(REPO_ROOT, 'native/fixtures/models/mlp');
const PUBLIC_KEY = join(REPO_ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem');
const NAME = 'mlp-real';
const MEMORY_MB = 512;

function condition(ps: PaddleService, type: string): Condition | undefined {
  return ps.status?.conditions?.find((c) => c.type === type);
}

/** A ConfigMap holding a model directory (binary files as binaryData). */
function modelConfigMap(name: string, dir: string, namespace: string) {
  const binaryData: Record<string, string> = {};
  for (const f of readdirSync(dir)) binaryData[f] = readFileSync(join(dir, f)).toString('base64');
  return { metadata: { name, namespace }, binaryData };
}

function paddleService(format: 'pdmodel' | 'pir', configMap: string, image: string, maxMemoryMB = MEMORY_MB, name = NAME, mutual = false): PaddleService {
  return {
    apiVersion: 'serving.paddle.io/v1alpha1',
    kind: 'PaddleService',
    metadata: { name },
    spec: {
      replicas: 1,
      model: {
        name: 'mlp',
        format,
        source: { configMap: { name: configMap } },
        verification: { required: true, publicKeySecretRef: { name: 'model-signing-key', key: 'public.pem' } },
      },
      runtime: { backend: 'builtin', device: 'cpu', cpuThreads: 1, maxMemoryMB, image, imagePullPolicy: 'Never' },
      // A small CPU request: the node has 2 CPUs and the suite runs up to four pods at once.
      resources: { nodeSelector: REAL_NODE_SELECTOR, tolerations: [REAL_NODE_TOLERATION], requests: { cpu: '100m' } },
      tls: { issuerRef: E2E_ISSUER, ...(mutual ? { mutual: true } : {}) },
      auth: {
        enabled: false,
        policies: [
          { path: '/v2/models/{model}/infer', domain: 'model_inference', callsPerMinute: 600_000 },
          { path: '/v1/predict', domain: 'model_inference', callsPerMinute: 60 },
          { path: '/v1/encrypt_input', domain: 'data_protection', callsPerMinute: 20 },
          { path: '/v1/export_model', domain: 'model_admin', callsPerMinute: 5 },
        ],
      },
      observability: { reportIntervalSeconds: 1 },
    },
  } as PaddleService;
}

const INFER = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data: Array.from({ length: 64 }, (_, i) => ((i * 7) % 13) / 13) }] };

async function servingPods(clients: Clients, ns: string, name = NAME): Promise<V1Pod[]> {
  return (await clients.core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name}` })).items;
}

function podReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

// Each wait bounds a hang on a loaded machine (kubelet, containerd, cert-manager, the operator),
// not an expected duration; the mocha timeouts are above the sum of one test's or hook's waits.
describe('real node: the operator runs the sidecar image on a kubelet', function () {
  this.timeout(900_000);
  let node: RealNode;
  let clients: Clients;
  let op: OperatorProcess | undefined;
  let ns = '';
  let pod: V1Pod | undefined;
  let ca = '';

  const diagnose = async (err: unknown): Promise<never> => {
    const pods = ns ? (await clients.core.listNamespacedPod({ namespace: ns }).catch(() => ({ items: [] as V1Pod[] }))).items : [];
    const detail = pods.map((p) => `${p.metadata?.name} on ${p.spec?.nodeName}: ${JSON.stringify(p.status?.containerStatuses ?? p.status?.conditions)}`);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\npods:\n${detail.join('\n')}\noperator log:\n${op?.logs.slice(-10).join('\n') ?? ''}`);
  };

  before(async function () {
    this.timeout(900_000);
    node = realNode();
    clients = makeClients();
    op = await startOperator({ identity: 'e2e-real-node', leaseName: 'e2e-real-node', extraArgs: ['--resync-seconds', '5'] });
    ns = await createTestNamespace(clients, 'real-node');
    await createObject(clients.objects, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'model-signing-key', namespace: ns }, stringData: { 'public.pem': readFileSync(PUBLIC_KEY, 'utf8') } });
    await createObject(clients.objects, { apiVersion: 'v1', kind: 'ConfigMap', ...modelConfigMap('mlp-legacy', join(MLP, 'legacy'), ns) });
    await createObject(clients.objects, { apiVersion: 'v1', kind: 'ConfigMap', ...modelConfigMap('mlp-pir', join(MLP, 'pir'), ns) });
    await createPaddleService(clients, ns, paddleService('pdmodel', 'mlp-legacy', node.sidecarImage));
  });

  after(async function () {
    this.timeout(300_000);
    await op?.stop();
    if (ns && !process.env.E2E_KEEP_NAMESPACES) await deleteTestNamespace(clients, ns);
  });

  it('the real node is Ready beside the kwok nodes: kubelet at the pinned version on containerd, tainted for opt-in pods', async () => {
    const n = await clients.core.readNode({ name: node.name });
    const versions = pinnedVersions();
    assert.equal(n.status?.nodeInfo?.kubeletVersion, versions.KUBERNETES_VERSION);
    assert.match(n.status?.nodeInfo?.containerRuntimeVersion ?? '', new RegExp(`^containerd://${(versions.CONTAINERD_VERSION ?? '').replaceAll('.', '\\.')}`));
    assert.equal(n.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.ok(n.spec?.taints?.some((t) => t.key === REAL_NODE_TOLERATION.key && t.effect === 'NoSchedule'), 'tainted: only pods that tolerate it land here');
    assert.equal(n.metadata?.annotations?.['kwok.x-k8s.io/node'], undefined, 'not a kwok node');
  });

  it('the pod runs on the real node and the kubelet\'s probes make it Ready', async () => {
    const pods = await waitForValue(
      () => servingPods(clients, ns),
      (ps) => ps.length === 1 && ps[0]?.spec?.nodeName === node.name && podReady(ps[0]),
      240_000,
      `one Ready model pod on ${node.name}`,
    ).catch(diagnose);
    pod = pods[0];
    const c = pod?.status?.containerStatuses?.find((s) => s.name === 'sidecar');
    assert.equal(c?.ready, true);
    assert.equal(c?.started, true);
    assert.equal(c?.image?.replace(/^docker\.io\//, ''), node.sidecarImage.replace(/^docker\.io\//, ''));
    assert.ok(c?.state?.running, `running: ${JSON.stringify(c?.state)}`);
    const probe = pod?.spec?.containers[0]?.readinessProbe;
    assert.ok(probe?.httpGet, 'the Deployment has an HTTP readiness probe, which the kubelet ran');
    assert.ok(pod?.status?.podIP?.startsWith('10.88.'), `pod IP ${pod?.status?.podIP} on the node's bridge`);
  });

  it('the securityContext holds in the kernel: uid 65532, no capabilities, no new privileges, read-only root, the memory limit', async () => {
    const id = pod?.status?.containerStatuses?.find((s) => s.name === 'sidecar')?.containerID;
    assert.ok(id, 'container id');
    const proc = containerProcess(node, id);
    assert.equal(proc.uid, 65532);
    assert.equal(proc.gid, 65532);
    assert.equal(BigInt(`0x${proc.capEff}`), 0n, `CapEff ${proc.capEff}`);
    assert.equal(proc.noNewPrivs, true, 'allowPrivilegeEscalation: false sets no_new_privs');
    assert.match(proc.rootMountOptions, /^ro[,$]/, `root mount options ${proc.rootMountOptions}`);
    assert.equal(proc.memoryLimitBytes, MEMORY_MB * 1024 * 1024, 'maxMemoryMB is the cgroup memory limit');
  });

  it('inference over HTTPS with the certificate issued for the Service name', async () => {
    const secret = await clients.core.readNamespacedSecret({ name: `${NAME}-tls`, namespace: ns });
    ca = Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64').toString('utf8');
    assert.match(ca, /BEGIN CERTIFICATE/);
    const res = await podRequest(node, pod?.status?.podIP ?? '', PORTS.serving, { method: 'POST', path: '/v2/models/mlp/infer', body: INFER, ca, servername: `${NAME}.${ns}.svc` });
    assert.equal(res.status, 200, res.body.slice(0, 300));
    const out = (JSON.parse(res.body) as { outputs: Array<{ shape: number[]; data: number[] }> }).outputs[0];
    assert.deepEqual(out?.shape, [1, 10]);
    const sum = (out?.data ?? []).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `softmax output sums to 1 (${sum})`);
    await assert.rejects(
      podRequest(node, pod?.status?.podIP ?? '', PORTS.serving, { method: 'GET', path: '/v2/health/ready', ca, servername: 'wrong-name.example' }),
      /altnames|Hostname/i,
      'the certificate names the Service, not any name',
    );
  });

  it('the pod reports into status with its own ServiceAccount token; Ready is Serving', async () => {
    const name = pod?.metadata?.name ?? '';
    const ps = await waitForValue(
      () => getPaddleService(clients, ns, NAME),
      (p) => p.status?.podReports?.[name]?.ready === true && condition(p, 'Ready')?.status === 'True',
      180_000,
      `status.podReports.${name} and Ready`,
    ).catch(diagnose);
    assert.equal(ps.status?.podReports?.[name]?.model.verified, true);
    assert.equal(condition(ps, 'Ready')?.reason, 'Serving');
    // The only credentials in the pod are the token the kubelet projected for its ServiceAccount.
    assert.ok(pod?.spec?.serviceAccountName && pod.spec.serviceAccountName !== 'default', `ServiceAccount ${pod?.spec?.serviceAccountName}`);
    assert.ok(pod?.spec?.volumes?.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken)), 'the projected token volume');
  });

  it('a rolling update to a new model digest keeps serving: no failed request in a loop during the rollout', async () => {
    const before = await getPaddleService(clients, ns, NAME);
    const oldDigest = before.status?.model?.digest;
    assert.ok(oldDigest);
    const oldPod = pod?.metadata?.name ?? '';
    let stop = false;
    const results: Array<{ pod: string; status: number; error?: string }> = [];
    // The Service's job without kube-proxy: each request goes to a Ready endpoint of the moment.
    const loop = (async () => {
      while (!stop) {
        const ready = (await servingPods(clients, ns)).filter((p) => podReady(p) && !p.metadata?.deletionTimestamp);
        const target = ready[results.length % Math.max(1, ready.length)];
        if (!target?.status?.podIP) {
          results.push({ pod: '', status: 0, error: 'no Ready endpoint' });
          continue;
        }
        try {
          const r = await podRequest(node, target.status.podIP, PORTS.serving, { method: 'POST', path: '/v2/models/mlp/infer', body: INFER, ca, servername: `${NAME}.${ns}.svc` });
          results.push({ pod: target.metadata?.name ?? '', status: r.status, ...(r.status === 200 ? {} : { error: r.body.slice(0, 200) }) });
        } catch (err) {
          results.push({ pod: target.metadata?.name ?? '', status: 0, error: String(err) });
        }
      }
    })();
    let servedByNew = 0;
    try {
      await mergePatchPaddleService(clients, ns, NAME, { spec: { model: { format: 'pir', source: { configMap: { name: 'mlp-pir' } } } } });
      await waitForValue(
        () => getPaddleService(clients, ns, NAME),
        (p) => {
          const reports = Object.values(p.status?.podReports ?? {});
          return p.status?.model?.digest !== undefined && p.status.model.digest !== oldDigest && reports.length === 1 && condition(p, 'Ready')?.status === 'True';
        },
        240_000,
        'the new model digest served by the only pod, Ready',
      ).catch(diagnose);
      await waitForValue(() => servingPods(clients, ns), (ps) => ps.length === 1 && ps[0]?.metadata?.name !== oldPod, 240_000, 'the old pod gone');
      // The loop goes on until the new pod has answered a few times: it spans the whole
      // rollout however many requests a loaded machine fits into it.
      await waitFor(() => {
        servedByNew = results.filter((r) => r.status === 200 && r.pod !== oldPod && r.pod !== '').length;
        return { done: servedByNew >= 3 || results.some((r) => r.status !== 200), seen: { requests: results.length, servedByNew } };
      }, 120_000, 'three answers from the new pod');
    } finally {
      stop = true;
      await loop;
    }
    const failed = results.filter((r) => r.status !== 200);
    const served = new Set(results.filter((r) => r.status === 200).map((r) => r.pod));
    assert.deepEqual(failed, [], `${failed.length} of ${results.length} requests failed during the rollout`);
    assert.ok(served.has(oldPod) && served.size >= 2 && servedByNew >= 3, `served by the old and the new pod: ${[...served].join(', ')} (${servedByNew} answers from the new one)`);
  });

  it('maxMemoryMB is enforced by the kernel: a limit below what the model needs ends OOMKilled, and the status says so', async () => {
    const oom = 'mlp-oom';
    await createPaddleService(clients, ns, paddleService('pdmodel', 'mlp-legacy', node.sidecarImage, 64, oom));
    const pods = await waitForValue(
      () => servingPods(clients, ns, oom),
      (ps) => ps.some((p) => p.status?.containerStatuses?.some((c) => (c.lastState?.terminated ?? c.state?.terminated)?.reason === 'OOMKilled')),
      240_000,
      `a ${oom} pod OOMKilled by the kernel`,
    ).catch(diagnose);
    const killed = pods.flatMap((p) => p.status?.containerStatuses ?? []).map((c) => c.lastState?.terminated ?? c.state?.terminated).find((t) => t?.reason === 'OOMKilled');
    assert.equal(killed?.exitCode, 137, 'SIGKILL from the OOM killer');
    const ps = await waitForValue(
      () => getPaddleService(clients, ns, oom),
      (p) => condition(p, 'Ready')?.reason === 'OOMKilled',
      180_000,
      `${oom} Ready=False with reason OOMKilled`,
    ).catch(diagnose);
    const ready = condition(ps, 'Ready');
    assert.equal(ready?.status, 'False');
    assert.match(ready?.message ?? '', /exceeding its memory limit \(spec\.runtime\.maxMemoryMB=64\)/);
  });

  it('mutual TLS: the pod serves only a client that presents a certificate cert-manager issued', async () => {
    const name = 'mlp-mtls';
    // The client's certificate: a cert-manager Certificate from the same ClusterIssuer, for client auth.
    await applyObject(clients.objects, {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'inference-client', namespace: ns },
      spec: { secretName: 'inference-client', commonName: 'inference-client', usages: ['client auth', 'digital signature'], privateKey: { algorithm: 'ECDSA', size: 256 }, issuerRef: E2E_ISSUER },
    });
    await createPaddleService(clients, ns, paddleService('pdmodel', 'mlp-legacy', node.sidecarImage, MEMORY_MB, name, true));
    const pods = await waitForValue(
      () => servingPods(clients, ns, name),
      (ps) => ps.length === 1 && podReady(ps[0] as V1Pod),
      240_000,
      `the ${name} pod Ready (probes on the plain health port)`,
    ).catch(diagnose);
    const podIP = pods[0]?.status?.podIP ?? '';
    const client = await waitForValue(
      () => clients.core.readNamespacedSecret({ name: 'inference-client', namespace: ns }).catch(() => undefined),
      (sec) => Boolean(sec?.data?.['tls.crt']),
      180_000,
      'the client certificate Secret',
    );
    const b64 = (k: string) => Buffer.from(client?.data?.[k] ?? '', 'base64');
    const serverCa = Buffer.from((await clients.core.readNamespacedSecret({ name: `${name}-tls`, namespace: ns })).data?.['ca.crt'] ?? '', 'base64');
    const servername = `${name}.${ns}.svc`;
    const ok = await podRequest(node, podIP, PORTS.serving, { method: 'POST', path: '/v2/models/mlp/infer', body: INFER, ca: serverCa, servername, cert: b64('tls.crt'), key: b64('tls.key') });
    assert.equal(ok.status, 200, ok.body.slice(0, 300));
    const refused = await podRequest(node, podIP, PORTS.serving, { method: 'POST', path: '/v2/models/mlp/infer', body: INFER, ca: serverCa, servername }).then(
      (r) => `answered ${r.status}`,
      (err: unknown) => `refused: ${String(err)}`,
    );
    assert.match(refused, /^refused: .*(certificate|alert|handshake|reset|socket hang up)/i, 'no client certificate, no answer');
  });
});
