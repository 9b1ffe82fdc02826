// A model from S3: a real S3 server (e2e/tools/s3server: rclone/gofakes3 with SigV4, built from
// the Go module proxy, on loopback) holds a signed model that `paddle-model push` uploaded. The
// operator gives the PaddleService's pod the model-fetch init container; the real scheduler
// places the pod on a kwok node; the harness plays the kubelet (e2e/src/init-container.ts: the
// init container's `paddle-model fetch` as a local process with the pod's volumes, then its
// termination in the pod's status), and a real sidecar process then serves what it fetched
// (e2e/src/sidecar-pod.ts), answering like Paddle. The same with one byte of the parameters
// object changed in the bucket: the fetch is refused before anything serves, nothing is
// installed, and the PaddleService's ModelFetched and Ready conditions name the file.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { V1Pod } from '@kubernetes/client-node';
import type { Condition, PaddleService } from '../../crds/src/index.js';
import { runCli } from '../../native/lib/cli/main.js';
import { loadCases, maxAbsDiff } from '../../native/test/fixtures.js';
import {
  CONVERGE_TIMEOUT_MS,
  E2E_ISSUER,
  STARTUP_TIMEOUT_MS,
  authOffPolicies,
  createPaddleService,
  getPaddleService,
  startOperator,
  waitUntilLeading,
  type OperatorProcess,
} from '../../operator/test/e2e/harness.js';
import { REPO_ROOT, createObject, createTestNamespace, deleteTestNamespace, kubectl, makeClients, waitForValue, type Clients } from '../src/index.js';
import { runInitContainersForPod, type InitContainersResult } from '../src/init-container.js';
import { startS3Server, type S3Server } from '../src/s3-server.js';
import { startSidecarForPod, type SidecarPod } from '../src/sidecar-pod.js';

const MODEL_DIR = join(REPO_ROOT, 'native/fixtures/models/mlp/legacy');
const PUBLIC_KEY = join(REPO_ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem');
const BUCKET = 'models';

function paddleService(name: string, endpoint: string, prefix: string): PaddleService {
  return {
    apiVersion: 'serving.paddle.io/v1alpha1',
    kind: 'PaddleService',
    metadata: { name },
    spec: {
      replicas: 1,
      model: {
        name,
        format: 'pdmodel',
        source: { s3: { endpoint, bucket: BUCKET, prefix, region: 'us-east-1', credentialsSecretRef: { name: 'model-store' }, maxSizeMB: 16 } },
        verification: { required: true, publicKeySecretRef: { name: 'model-signing-key', key: 'public.pem' } },
      },
      runtime: { backend: 'builtin', device: 'cpu', cpuThreads: 1, maxMemoryMB: 512 },
      tls: { issuerRef: E2E_ISSUER },
      auth: authOffPolicies(6000),
      observability: { reportIntervalSeconds: 1 },
    },
  } as PaddleService;
}

const condition = (ps: PaddleService, type: string): Condition | undefined => ps.status?.conditions?.find((c) => c.type === type);

// Every wait is bounded by STARTUP/CONVERGE_TIMEOUT_MS (a hang, not an expected duration); the
// mocha timeouts are above the sum of one test's or hook's waits.
describe('model source s3: fetched, verified and served; a changed byte refused before serving', function () {
  this.timeout(1_200_000);
  let clients: Clients;
  let s3: S3Server | undefined;
  let op: OperatorProcess | undefined;
  let ns = '';
  const cleanups: Array<() => Promise<void> | void> = [];
  const sidecars: SidecarPod[] = [];

  const push = async (prefix: string) => {
    const out: string[] = [];
    const code = await runCli(['push', '--s3-endpoint', s3?.endpoint ?? '', '--s3-bucket', BUCKET, '--s3-prefix', prefix, '--key', PUBLIC_KEY, MODEL_DIR], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    });
    assert.equal(code, 0, out.join('\n'));
  };

  /** The pod of `name` once kwok has played it to Running on a node. */
  const runningPod = async (name: string): Promise<string> => {
    const pods = await waitForValue(
      async () => (await clients.core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${name}` })).items,
      (items: V1Pod[]) => items.length === 1 && items[0]?.status?.phase === 'Running' && Boolean(items[0]?.spec?.nodeName),
      CONVERGE_TIMEOUT_MS,
      `one Running pod of ${name} on a kwok node`,
    );
    return pods[0]?.metadata?.name ?? '';
  };

  const explain = (err: unknown, extra = ''): never => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${extra}\noperator log (last 15 lines):\n${op?.logs.slice(-15).join('\n') ?? ''}`);
  };

  before(async function () {
    this.timeout(1_200_000);
    clients = makeClients();
    s3 = await startS3Server([BUCKET]);
    // push reads the credentials from the environment, as on a laptop.
    process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    await push('mlp/v1');
    await push('mlp/tampered');
    const client = new S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'mlp/tampered/model.pdiparams' }));
    const bytes = Buffer.from(await (got.Body as { transformToByteArray: () => Promise<Uint8Array> }).transformToByteArray());
    const at = bytes.length - 17;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'mlp/tampered/model.pdiparams', Body: bytes }));
    client.destroy();

    op = await startOperator({ identity: 'e2e-model-s3', leaseName: 'e2e-model-s3', extraArgs: ['--resync-seconds', '5'] });
    await waitUntilLeading(op);
    ns = await createTestNamespace(clients, 'model-s3');
    await createObject(clients.objects, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'model-signing-key', namespace: ns }, stringData: { 'public.pem': readFileSync(PUBLIC_KEY, 'utf8') } });
    await createObject(clients.objects, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'model-store', namespace: ns },
      stringData: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
  });

  after(async function () {
    this.timeout(240_000);
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    for (const s of sidecars) await s.dispose();
    for (const c of cleanups) await c();
    await op?.stop();
    await s3?.stop();
    if (ns && !process.env.E2E_KEEP_NAMESPACES) await deleteTestNamespace(clients, ns);
  });

  it('serves the model fetched from S3: verified, ModelFetched and Ready, answers as Paddle did', async () => {
    const name = 'from-s3';
    await createPaddleService(clients, ns, paddleService(name, s3?.endpoint ?? '', 'mlp/v1'));
    const podName = await runningPod(name).catch((e) => explain(e));
    const deployment = await clients.apps.readNamespacedDeployment({ name, namespace: ns });
    assert.equal(deployment.spec?.template.spec?.initContainers?.[0]?.name, 'model-fetch');

    const init: InitContainersResult = await runInitContainersForPod({ clients, namespace: ns, pod: podName });
    cleanups.push(() => rmSync(init.root, { recursive: true, force: true }));
    const run = init.runs[0];
    assert.equal(run?.exitCode, 0, run?.output);
    assert.match(run?.message ?? '', /^fetched model\.pdiparams, model\.pdmodel \(\d+ bytes\) from s3:\/\/models\/mlp\/v1\/ at http:\/\/127\.0\.0\.1:\d+; signature verified \(RSA-PKCS1v15-SHA256/);
    assert.ok(!`${run?.output}${run?.message}`.includes(s3?.secretAccessKey ?? '-'), 'the secret key never reaches the log or the status');
    const modelDir = init.volumes.model ?? '';
    assert.deepEqual(readdirSync(modelDir).sort(), ['model.pdiparams', 'model.pdmodel', 'signature.json']);

    const sidecar = await startSidecarForPod({ clients, namespace: ns, pod: podName, modelDir }).catch((e) => explain(e));
    sidecars.push(sidecar);
    await waitForValue(async () => (await sidecar.request('GET', '/v2/health/ready')).status, (s) => s === 200, STARTUP_TIMEOUT_MS, 'the sidecar to be ready').catch((e) =>
      explain(e, sidecar.output().slice(-3000)),
    );
    // Paddle's own outputs for the fixture's cases (native/fixtures), through the served model.
    const { cases } = loadCases('mlp');
    for (const c of cases.slice(0, 3)) {
      const x = c.inputs.x;
      assert.ok(x);
      const res = await sidecar.request('POST', `/v2/models/${name}/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: x.shape, data: Array.from(x.data as Float32Array) }] });
      assert.equal(res.status, 200, res.body.slice(0, 300));
      const out = (JSON.parse(res.body) as { outputs: Array<{ data: number[] }> }).outputs[0];
      assert.ok(out && maxAbsDiff(Float32Array.from(out.data), c.outputs.legacy[0]!.data) <= 1e-4, `case ${c.id} differs from Paddle`);
    }

    const ps = await waitForValue(
      () => getPaddleService(clients, ns, name),
      (p) => condition(p, 'Ready')?.status === 'True' && condition(p, 'ModelFetched')?.status === 'True',
      CONVERGE_TIMEOUT_MS,
      'ModelFetched=True and Ready=True',
    ).catch((e) => explain(e));
    assert.match(condition(ps, 'ModelFetched')?.message ?? '', /^fetched model\.pdiparams, model\.pdmodel .* signature verified/);
    assert.equal(condition(ps, 'ModelVerified')?.status, 'True');
  });

  it('refuses the object with one byte changed before serving: nothing installed, the condition names the file', async () => {
    const name = 'tampered';
    await createPaddleService(clients, ns, paddleService(name, s3?.endpoint ?? '', 'mlp/tampered'));
    const podName = await runningPod(name).catch((e) => explain(e));
    const init = await runInitContainersForPod({ clients, namespace: ns, pod: podName });
    cleanups.push(() => rmSync(init.root, { recursive: true, force: true }));
    const run = init.runs[0];
    assert.equal(run?.exitCode, 1, run?.output);
    assert.match(run?.message ?? '', /^model refused: model\.pdiparams: SHA-256 [0-9a-f]{64} does not match [0-9a-f]{64} in signature\.json/);
    assert.deepEqual(readdirSync(init.volumes.model ?? ''), [], 'nothing installed for a serving container to load');

    // The pod as the kubelet leaves it: Pending, not initialized, the message in its status.
    const pod = await clients.core.readNamespacedPod({ name: podName, namespace: ns });
    assert.equal(pod.status?.phase, 'Pending');
    assert.match(pod.status?.initContainerStatuses?.[0]?.state?.terminated?.message ?? '', /model\.pdiparams/);

    const ps = await waitForValue(
      () => getPaddleService(clients, ns, name),
      (p) => condition(p, 'ModelFetched')?.status === 'False' && condition(p, 'Ready')?.reason === 'ModelFetchFailed',
      CONVERGE_TIMEOUT_MS,
      'ModelFetched=False and Ready=False with reason ModelFetchFailed',
    ).catch((e) => explain(e));
    const fetched = condition(ps, 'ModelFetched');
    assert.equal(fetched?.reason, 'ModelFetchFailed');
    assert.match(fetched?.message ?? '', new RegExp(`^pod ${podName}: model refused: model\\.pdiparams: SHA-256 `));
    assert.equal(condition(ps, 'Ready')?.status, 'False');
    assert.match(condition(ps, 'Ready')?.message ?? '', /model\.pdiparams/);
    assert.equal(ps.status?.podReports, undefined, 'no pod ever reported serving');

    const table = await kubectl(['get', 'psvc', name, '-n', ns]);
    assert.match(table.stdout, /False\s+ModelFetchFailed/);
  });
});
