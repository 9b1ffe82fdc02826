import assert from 'node:assert/strict';
import type { PaddleService } from '../../crds/src/index.js';
import { KubeEventRecorder, MAX_EVENTS_IN_FLIGHT } from '../src/events.js';
import type { KubeClient } from '../src/kube-client.js';

const ps = { apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService', metadata: { name: 'a', namespace: 'ml', uid: 'u' }, spec: {} } as unknown as PaddleService;

/** A client whose creates finish only when the test says so. */
function slowClient() {
  const pending: Array<{ path: string; body: unknown; finish: (err?: Error) => void }> = [];
  const client = {
    create: (path: string, body: unknown) =>
      new Promise<void>((resolve, reject) => pending.push({ path, body, finish: (err) => (err ? reject(err) : resolve()) })),
  } as unknown as KubeClient;
  return { client, pending };
}

describe('KubeEventRecorder: Events are written in the background', () => {
  it('record() returns before the API server answers; the Event is the one asked for', async () => {
    const { client, pending } = slowClient();
    const errors: unknown[] = [];
    const rec = new KubeEventRecorder(client, 'paddle-operator', 'op-0', (e) => errors.push(e));
    await rec.record(ps, 'Normal', 'Ready', '1/1 pods serve');
    assert.equal(pending.length, 1);
    assert.equal(rec.inFlight, 1);
    const ev = pending[0]?.body as { reason: string; type: string; involvedObject: { name: string; uid: string }; metadata: { namespace: string } };
    assert.equal(pending[0]?.path, '/api/v1/namespaces/ml/events');
    assert.deepEqual([ev.reason, ev.type, ev.involvedObject.name, ev.involvedObject.uid, ev.metadata.namespace], ['Ready', 'Normal', 'a', 'u', 'ml']);
    pending[0]?.finish();
    await new Promise((r) => setImmediate(r));
    assert.equal(rec.inFlight, 0);
    assert.deepEqual(errors, []);
  });

  it('a failed write is reported, never thrown', async () => {
    const { client, pending } = slowClient();
    const errors: unknown[] = [];
    const rec = new KubeEventRecorder(client, 'paddle-operator', 'op-0', (e) => errors.push(e));
    await rec.record(ps, 'Warning', 'InvalidSpec', 'bad');
    pending[0]?.finish(new Error('503'));
    await new Promise((r) => setImmediate(r));
    assert.equal(errors.length, 1);
    assert.equal(rec.inFlight, 0);
  });

  it(`beyond ${MAX_EVENTS_IN_FLIGHT} Events in flight, more are dropped and reported instead of queued`, async () => {
    const { client, pending } = slowClient();
    const errors: unknown[] = [];
    const rec = new KubeEventRecorder(client, 'paddle-operator', 'op-0', (e) => errors.push(e));
    for (let i = 0; i < MAX_EVENTS_IN_FLIGHT + 3; i++) await rec.record(ps, 'Normal', 'Ready', `n${i}`);
    assert.equal(pending.length, MAX_EVENTS_IN_FLIGHT);
    assert.equal(errors.length, 3);
    assert.match(String(errors[0]), /dropped/);
    for (const p of pending) p.finish();
    await new Promise((r) => setImmediate(r));
    assert.equal(rec.inFlight, 0);
  });
});
