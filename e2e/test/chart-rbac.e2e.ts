// The operator running with exactly the chart's RBAC: the chart is installed, the operator runs
// as the chart's ServiceAccount (a token from the TokenRequest API) through a recording proxy
// in front of the real API server, and reconciles the example PaddleService. Nothing may be
// forbidden, and the chart may grant nothing the operator did not use.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1ClusterRole, V1Deployment, V1Role } from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import { CHART_DIR, REPO_ROOT, helm, only, parseManifests, type RenderedObject } from '../../charts/test/lib/chart.js';
import { allows, flatten, key, type PolicyRule } from '../../charts/test/lib/rbac.js';
import { startRecordingProxy, type RecordingProxy } from '../../charts/test/lib/recording-proxy.js';
import { createTestNamespace, deleteTestNamespace, kubeconfigPath, kubectl, makeClients, waitFor, type Clients } from '../src/index.js';

/** Granted by the chart although the operator never calls it, and why. */
const GRANTED_NOT_CALLED: Record<string, string> = {
  'serving.paddle.io:paddleservices/status:get':
    'the operator grants get on its PaddleService\'s status to each model pod\'s Role; RBAC lets it grant only what it holds',
};

// Each wait bounds a hang on a loaded machine, not an expected duration; the mocha timeout is
// above the sum of one test's or hook's waits.
describe('the operator with exactly the chart\'s RBAC', function () {
  this.timeout(900_000);
  const release = `rbac-${randomBytes(3).toString('hex')}`;
  let clients: Clients;
  let ns = '';
  let workloads = '';
  let proxy: RecordingProxy | undefined;
  let operator: ChildProcess | undefined;
  let operatorLog = '';
  let tmp = '';
  let manifest: RenderedObject[] = [];

  before(async function () {
    this.timeout(1_500_000);
    clients = makeClients();
    // The operator reconciles PaddleServices cluster-wide. One left in a namespace an earlier
    // suite is still deleting (chart-install's) gets its children refused with 403 "namespace
    // is being terminated", which this test would count against the chart (seen in CI): start
    // once no namespace is terminating.
    await waitFor(async () => {
      const r = await kubectl(['get', 'namespaces', '-o', 'jsonpath={range .items[?(@.status.phase=="Terminating")]}{.metadata.name} {end}']);
      return { done: r.stdout.trim() === '', seen: `terminating: ${r.stdout.trim()}` };
    }, 300_000, 'the namespaces earlier suites deleted to be gone');
    ns = await createTestNamespace(clients, 'chart-rbac');
    workloads = await createTestNamespace(clients, 'chart-rbac-psvc');
    tmp = mkdtempSync(join(tmpdir(), 'chart-rbac-'));
    // The CRD is already installed by the local cluster; the chart brings everything else.
    const r = helm(['install', release, CHART_DIR, '-n', ns, '--set', 'crds.enabled=false', '--wait', '--timeout', '300s'], {
      kubeconfig: kubeconfigPath(),
      timeoutMs: 360_000,
    });
    assert.equal(r.code, 0, r.stderr);
    manifest = parseManifests(helm(['get', 'manifest', release, '-n', ns], { kubeconfig: kubeconfigPath() }).stdout);
  });

  after(async function () {
    this.timeout(600_000);
    operator?.kill('SIGKILL');
    await proxy?.close();
    helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '300s'], { kubeconfig: kubeconfigPath(), timeoutMs: 360_000 });
    if (workloads) await deleteTestNamespace(clients, workloads);
    if (ns) await deleteTestNamespace(clients, ns);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (process.env.E2E_VERBOSE) console.log(operatorLog);
  });

  it('reconciles the example PaddleService with no forbidden call, using every permission the chart grants', async () => {
    const deployment = only(manifest, 'Deployment') as RenderedObject & V1Deployment;
    const serviceAccount = deployment.spec?.template.spec?.serviceAccountName ?? '';
    assert.equal(only(manifest, 'ServiceAccount').metadata.name, serviceAccount);

    // Exactly the ServiceAccount's identity: a token from the TokenRequest API.
    const token = (await kubectl(['create', 'token', serviceAccount, '-n', ns, '--duration', '1h'])).stdout.trim();
    const admin = yaml.load(readFileSync(kubeconfigPath(), 'utf8')) as { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[] };
    const cluster = admin.clusters[0]?.cluster;
    assert.ok(cluster);
    proxy = await startRecordingProxy(cluster.server, Buffer.from(cluster['certificate-authority-data'], 'base64'));
    const kubeconfig = join(tmp, 'operator.kubeconfig');
    writeFileSync(kubeconfig, yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'via-proxy', cluster: { server: proxy.url, 'certificate-authority-data': Buffer.from(proxy.caPem).toString('base64') } }],
      users: [{ name: serviceAccount, user: { token } }],
      contexts: [{ name: 'operator', context: { cluster: 'via-proxy', user: serviceAccount } }],
      'current-context': 'operator',
    }), { mode: 0o600 });

    // The example's prerequisites (Secrets the operator checks for), then the example itself.
    await kubectl(['create', 'secret', 'generic', 'model-signing-key', '-n', workloads, '--from-literal=public.pem=test-only-not-a-key']);
    await kubectl(['create', 'secret', 'generic', 'inference-tokens', '-n', workloads, '--from-literal=hmac.key=test-only-hmac']);
    await kubectl(['apply', '-n', workloads, '-f', join(REPO_ROOT, 'examples', 'minimal.yaml')]);
    // A second one whose key Secret is missing: its PublicKeySecretMissing Warning is the Event
    // that exercises the chart's `events: create` (a normal start-up records none).
    const example = readFileSync(join(REPO_ROOT, 'examples', 'minimal.yaml'), 'utf8');
    const noKey = example.replace('name: mnist-mlp\n', 'name: mnist-mlp-nokey\n').replace('name: model-signing-key', 'name: absent-signing-key');
    assert.ok(noKey.includes('mnist-mlp-nokey') && noKey.includes('absent-signing-key'), 'the example still has the fields this test renames');
    writeFileSync(join(tmp, 'nokey.yaml'), noKey);
    await kubectl(['apply', '-n', workloads, '-f', join(tmp, 'nokey.yaml')]);
    // A third at 2 replicas: the one that gets a PodDisruptionBudget (none below 2 pods).
    const pair = example.replace('name: mnist-mlp\n', 'name: mnist-mlp-pair\n').replace('spec:\n', 'spec:\n  replicas: 2\n');
    assert.ok(pair.includes('mnist-mlp-pair') && pair.includes('replicas: 2'), 'the example still has the fields this test changes');
    writeFileSync(join(tmp, 'pair.yaml'), pair);
    await kubectl(['apply', '-n', workloads, '-f', join(tmp, 'pair.yaml')]);

    // The operator as the chart runs it (its rendered args), on this machine: the pod's
    // downward-API environment by hand, the kubeconfig of the ServiceAccount, any free port.
    const args = [...(deployment.spec?.template.spec?.containers[0]?.args ?? []), `--kubeconfig=${kubeconfig}`, '--ops-port=0'];
    const env: NodeJS.ProcessEnv = { ...process.env, POD_NAME: `${release}-operator-e2e`, POD_NAMESPACE: ns };
    delete env.KUBECONFIG;
    operator = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'operator', 'src', 'main.ts'), ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    operator.stdout?.setEncoding('utf8').on('data', (d: string) => (operatorLog += d));
    operator.stderr?.setEncoding('utf8').on('data', (d: string) => (operatorLog += d));

    const clusterRules = ((only(manifest, 'ClusterRole') as RenderedObject & V1ClusterRole).rules ?? []) as PolicyRule[];
    const leaseRole = only(manifest, 'Role') as RenderedObject & V1Role;
    const leaseRules = (leaseRole.rules ?? []) as PolicyRule[];
    const granted = [...new Set([...flatten(clusterRules), ...flatten(leaseRules)].map(key))];
    const usedKeys = () => new Set(p.calls.flatMap((c) => (c.attrs ? [key(c.attrs)] : [])));

    // Wait for what is asserted below: the reconcile's outcome, two lease renewals, an Event,
    // and every permission the chart grants used once (a slow machine gets there later, and
    // some calls, e.g. a watch started after its list, come after the first status write).
    const p = proxy;
    await waitFor(async () => {
      if (operator?.exitCode !== null) throw new Error(`the operator exited (${String(operator?.exitCode)}):\n${operatorLog.slice(-3000)}`);
      const refused = p.calls.filter((c) => c.status === 401 || c.status === 403);
      if (refused.length > 0) throw new Error(`the API server refused the operator: ${refused.map((c) => `${c.method} ${c.path} -> ${c.status}`).join('; ')}`);
      const ps = await kubectl(['get', 'psvc', '-n', workloads, 'mnist-mlp', '-o', 'json']);
      const status = (JSON.parse(ps.stdout) as { status?: { observedGeneration?: number; conditions?: { type: string }[] } }).status;
      const dep = await kubectl(['get', 'deployment', '-n', workloads, 'mnist-mlp', '-o', 'name'], { allowFailure: true });
      const leaseUpdates = p.calls.filter((c) => c.attrs?.resource === 'leases' && c.attrs.verb === 'update').length;
      const events = p.calls.filter((c) => c.attrs?.resource === 'events').length;
      const used = usedKeys();
      const notYet = granted.filter((k) => !used.has(k) && !GRANTED_NOT_CALLED[k]);
      return {
        done: status?.observedGeneration === 1 && (status.conditions?.length ?? 0) > 0 && dep.code === 0 && leaseUpdates >= 2 && events >= 1 && notYet.length === 0,
        seen: { status, deployment: dep.code === 0, leaseUpdates, events, calls: p.calls.length, notYetUsed: notYet },
      };
    }, 300_000, 'the operator to reconcile mnist-mlp (status, children, an Event), renew its lease and use every granted permission');

    // Stop it the way Kubernetes does (SIGTERM): it releases the lease on the way out.
    operator.kill('SIGTERM');
    await waitFor(() => operator?.exitCode !== null, 60_000, 'the operator to exit after SIGTERM');

    const forbidden = p.calls.filter((c) => c.status === 401 || c.status === 403);
    assert.deepEqual(forbidden, [], 'no call was refused');
    assert.doesNotMatch(operatorLog, /forbidden/i, 'the operator logged a forbidden error');

    const nonResource = p.calls.filter((c) => !c.attrs).map((c) => `${c.method} ${c.path}`);
    assert.deepEqual(nonResource, [], 'the operator made non-resource calls the chart does not grant');

    // Every call allowed by the chart's rules (the Lease only through the namespaced Role).
    const used = new Set<string>();
    for (const c of p.calls) {
      const a = c.attrs as NonNullable<typeof c.attrs>;
      const rules = a.namespace === leaseRole.metadata?.namespace && a.resource === 'leases' ? leaseRules : clusterRules;
      assert.ok(allows(rules, a), `${c.method} ${c.path} (${key(a)}) is not granted by the chart`);
      used.add(key(a));
    }
    // ...and every permission the chart grants was used, or is listed above with its reason.
    const unused = granted.filter((k) => !used.has(k) && !GRANTED_NOT_CALLED[k]);
    assert.deepEqual(unused, [], 'the chart grants permissions the operator did not use');

    // The reason given for the permission granted but not called holds: the model pods' Role has it.
    const podRole = JSON.parse((await kubectl(['get', 'role', '-n', workloads, 'mnist-mlp-status-reporter', '-o', 'json'])).stdout) as V1Role;
    for (const k of Object.keys(GRANTED_NOT_CALLED)) {
      const [group, resource, verb] = k.split(':') as [string, string, string];
      assert.ok(allows((podRole.rules ?? []) as PolicyRule[], { group, resource, verb, name: 'mnist-mlp' }), `the model pods' Role does not hold ${k}`);
    }
  });
});
