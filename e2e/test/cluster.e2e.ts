// The local control plane itself: real components at the pinned versions, kwok GPU nodes.
import { ApiextensionsV1Api, VersionApi, type V1Node } from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { kubectl, makeClients, pinnedVersions, type Clients } from '../src/index.js';

describe('e2e cluster', function () {
  this.timeout(300_000); // kubectl's retries of a starved API server: a bound on a hang
  let clients: Clients;
  before(() => {
    clients = makeClients();
  });

  it('runs kube-apiserver and kubectl at the pinned Kubernetes version', async () => {
    const pinned = pinnedVersions().KUBERNETES_VERSION;
    const server = await clients.kc.makeApiClient(VersionApi).getCode();
    assert.equal(server.gitVersion, pinned);
    assert.equal(`v${server.major}.${server.minor}`, pinned?.split('.').slice(0, 2).join('.'));
    const out = JSON.parse((await kubectl(['version', '-o', 'json'])).stdout) as {
      clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string };
    };
    assert.equal(out.clientVersion.gitVersion, pinned);
    assert.equal(out.serverVersion.gitVersion, pinned);
  });

  it('has Ready kwok GPU nodes with nvidia.com/gpu in capacity and allocatable, and a CPU node', async () => {
    const nodes = (await clients.core.listNode()).items;
    const ready = (n: V1Node) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    const gpu = nodes.filter((n) => n.metadata?.labels?.['nvidia.com/gpu.product']);
    const cpu = nodes.filter((n) => !n.status?.allocatable?.['nvidia.com/gpu']);
    assert.ok(gpu.length >= 1, `GPU nodes: ${gpu.map((n) => n.metadata?.name).join(', ')}`);
    assert.ok(cpu.length >= 1, 'a CPU-only node exists');
    for (const n of gpu) {
      assert.ok(ready(n), `${n.metadata?.name} Ready`);
      assert.equal(n.metadata?.annotations?.['kwok.x-k8s.io/node'], 'fake');
      assert.ok(Number(n.status?.capacity?.['nvidia.com/gpu']) > 0, `${n.metadata?.name} capacity`);
      assert.equal(n.status?.allocatable?.['nvidia.com/gpu'], n.status?.capacity?.['nvidia.com/gpu']);
    }
    for (const n of cpu) assert.ok(ready(n), `${n.metadata?.name} Ready`);
  });

  it('serves the cert-manager stand-in CRDs', async () => {
    const ext = clients.kc.makeApiClient(ApiextensionsV1Api);
    for (const name of ['certificates.cert-manager.io', 'issuers.cert-manager.io', 'clusterissuers.cert-manager.io']) {
      const crd = await ext.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.find((c) => c.type === 'Established');
      assert.equal(established?.status, 'True', `${name} Established`);
    }
  });
});
