// kube-controller-manager: Deployments get ReplicaSets and Pods; deleting the owner
// garbage-collects them.
import type { V1Deployment } from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { createObject, deleteObject, makeClients, useTestNamespace, waitFor, waitForValue, type Clients } from '../src/index.js';

// kube-controller-manager under load: each wait bounds a hang, not an expected duration.
const CONTROLLER_TIMEOUT_MS = 180_000;

describe('Deployments and garbage collection', function () {
  this.timeout(5 * CONTROLLER_TIMEOUT_MS);
  let clients: Clients;
  before(() => {
    clients = makeClients();
  });
  const ns = useTestNamespace(() => clients, 'gc');

  it('creates a ReplicaSet and Pods for a Deployment, and collects them when it is deleted', async () => {
    const labels = { app: 'gc-probe' };
    const deployment: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'gc-probe', namespace: ns.name },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'c', image: 'registry.invalid/paddle-e2e/never-pulled:0' }] },
        },
      },
    };
    const created = await createObject(clients.objects, deployment);

    const rs = await waitForValue(async () => (await clients.apps.listNamespacedReplicaSet({ namespace: ns.name })).items,
      (items) => items.length === 1, CONTROLLER_TIMEOUT_MS, 'one ReplicaSet');
    assert.equal(rs[0]?.metadata?.ownerReferences?.[0]?.uid, created.metadata?.uid, 'ReplicaSet owned by the Deployment');
    const pods = await waitForValue(async () => (await clients.core.listNamespacedPod({ namespace: ns.name })).items,
      (items) => items.length === 2 && items.every((p) => p.status?.phase === 'Running'), CONTROLLER_TIMEOUT_MS, 'two Running pods');
    for (const p of pods) assert.equal(p.metadata?.ownerReferences?.[0]?.uid, rs[0]?.metadata?.uid, 'pod owned by the ReplicaSet');
    await waitForValue(() => clients.apps.readNamespacedDeployment({ namespace: ns.name, name: 'gc-probe' }),
      (d) => d.status?.availableReplicas === 2, CONTROLLER_TIMEOUT_MS, 'Deployment with 2 available replicas');

    await deleteObject(clients.objects, deployment, 'Background');
    await waitFor(async () => {
      const r = (await clients.apps.listNamespacedReplicaSet({ namespace: ns.name })).items;
      const p = (await clients.core.listNamespacedPod({ namespace: ns.name })).items;
      return { done: r.length === 0 && p.length === 0, seen: { replicaSets: r.map((x) => x.metadata?.name), pods: p.map((x) => `${x.metadata?.name}:${x.status?.phase}`) } };
    }, CONTROLLER_TIMEOUT_MS, 'the ReplicaSet and Pods to be garbage-collected');
  });
});
