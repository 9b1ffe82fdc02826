// The real scheduler places GPU pods on kwok GPU nodes; kwok runs them.
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { createObject, makeClients, useTestNamespace, waitFor, waitForValue, type Clients } from '../src/index.js';

function gpuPod(name: string, gpus: number): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      containers: [{
        name: 'model',
        image: 'registry.invalid/paddle-e2e/never-pulled:0', // kwok runs no containers
        resources: { limits: { 'nvidia.com/gpu': String(gpus) }, requests: { cpu: '100m', memory: '128Mi' } },
      }],
    },
  };
}

// kube-scheduler and kwok under load: each wait bounds a hang, not an expected duration.
const SCHEDULE_TIMEOUT_MS = 180_000;

describe('GPU scheduling on kwok nodes', function () {
  this.timeout(3 * SCHEDULE_TIMEOUT_MS);
  let clients: Clients;
  before(() => {
    clients = makeClients();
  });
  const ns = useTestNamespace(() => clients, 'sched');

  it('schedules a pod asking for 1 nvidia.com/gpu onto a GPU node, and it runs', async () => {
    await createObject(clients.objects, { ...gpuPod('one-gpu', 1), metadata: { name: 'one-gpu', namespace: ns.name } });
    const pod = await waitForValue(() => clients.core.readNamespacedPod({ namespace: ns.name, name: 'one-gpu' }),
      (p) => p.status?.phase === 'Running' && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
      SCHEDULE_TIMEOUT_MS, 'pod one-gpu Running and Ready');
    const nodeName = pod.spec?.nodeName;
    assert.ok(nodeName, 'pod is bound to a node');
    const node = await clients.core.readNode({ name: nodeName });
    assert.ok(node.metadata?.labels?.['nvidia.com/gpu.product'], `${nodeName} is a GPU node`);
    assert.ok(Number(node.status?.allocatable?.['nvidia.com/gpu']) >= 1);
    assert.ok(pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), 'pod Ready');
  });

  it('leaves a pod asking for 9 GPUs Pending with an Insufficient nvidia.com/gpu event', async () => {
    await createObject(clients.objects, { ...gpuPod('nine-gpus', 9), metadata: { name: 'nine-gpus', namespace: ns.name } });
    let events: CoreV1Event[] = [];
    await waitFor(async () => {
      events = (await clients.core.listNamespacedEvent({ namespace: ns.name, fieldSelector: 'involvedObject.name=nine-gpus' })).items;
      const failed = events.find((e) => e.reason === 'FailedScheduling' && e.message?.includes('Insufficient nvidia.com/gpu'));
      return { done: !!failed, seen: events.map((e) => `${e.reason}: ${e.message}`) };
    }, SCHEDULE_TIMEOUT_MS, 'a FailedScheduling event for nine-gpus');
    // The scheduler emits the Event (asynchronously) and patches the pod's PodScheduled
    // condition separately: either can be seen first.
    const pod = await waitForValue(() => clients.core.readNamespacedPod({ namespace: ns.name, name: 'nine-gpus' }),
      (p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled') === true, SCHEDULE_TIMEOUT_MS, 'the PodScheduled condition of nine-gpus');
    assert.equal(pod.status?.phase, 'Pending');
    assert.equal(pod.spec?.nodeName, undefined);
    const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    assert.equal(cond?.status, 'False');
    assert.equal(cond?.reason, 'Unschedulable');
  });
});
