import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { PaddleService } from '../../crds/src/index.js';
import { DEFAULT_OPERATOR_CONFIG } from '../src/builders/index.js';
import { OperatorMetrics } from '../src/metrics.js';
import { Reconciler } from '../src/reconciler.js';
import { FakeApi } from './fake-api.js';
import { FakeClock } from './fake-clock.js';
import { loadExample } from './fixtures.js';
import { NOW } from './reports.js';

const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined };

/** "condition/reason" -> value for every series of one PaddleService. */
async function conditionSeries(metrics: OperatorMetrics, namespace: string, name: string): Promise<Record<string, number>> {
  const json = await metrics.paddleServiceCondition.get();
  const out: Record<string, number> = {};
  for (const v of json.values) {
    if (v.labels.paddleservice_namespace === namespace && v.labels.paddleservice === name) out[`${String(v.labels.condition)}/${String(v.labels.reason)}`] = v.value;
  }
  return out;
}

describe('paddle_operator_paddleservice_condition', () => {
  it('True -> 1, False -> 0, Unknown and absent -> no series; a change replaces the series', async () => {
    const m = new OperatorMetrics(new Registry(), false);
    m.setConditions('ml', 'a', [
      { type: 'Ready', status: 'False', reason: 'DeploymentUnavailable' },
      { type: 'ModelVerified', status: 'Unknown', reason: 'AwaitingReports' },
      { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
    ]);
    m.setConditions('ml', 'b', [{ type: 'Ready', status: 'True', reason: 'Ready' }]);
    assert.deepEqual(await conditionSeries(m, 'ml', 'a'), { 'Ready/DeploymentUnavailable': 0, 'Available/MinimumReplicasAvailable': 1 });
    m.setConditions('ml', 'a', [
      { type: 'Ready', status: 'True', reason: 'Ready' },
      { type: 'ModelVerified', status: 'False', reason: 'VerificationFailed' },
    ]);
    assert.deepEqual(
      await conditionSeries(m, 'ml', 'a'),
      { 'Ready/Ready': 1, 'ModelVerified/VerificationFailed': 0 },
      'the old reason series and the now absent Available are gone',
    );
    m.setConditions('ml', 'a', [{ type: 'Ready', status: 'True', reason: 'Ready' }, { type: 'ModelVerified', status: 'Unknown', reason: 'AwaitingReports' }]);
    assert.deepEqual(await conditionSeries(m, 'ml', 'a'), { 'Ready/Ready': 1 }, 'Unknown: no series');
    m.forgetConditions('ml', 'a');
    assert.deepEqual(await conditionSeries(m, 'ml', 'a'), {});
    assert.deepEqual(await conditionSeries(m, 'ml', 'b'), { 'Ready/Ready': 1 }, 'other PaddleServices keep theirs');
    m.clearConditions();
    assert.deepEqual(await conditionSeries(m, 'ml', 'b'), {});
  });

  it('is set from the status a reconcile computes, and removed when the PaddleService is deleted', async () => {
    const ps = { ...loadExample('minimal.yaml'), apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService' } as PaddleService;
    const api = new FakeApi();
    api.put(ps as unknown as KubernetesObject);
    api.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'model-signing-key', namespace: 'ml' } });
    const metrics = new OperatorMetrics(new Registry(), false);
    const reconciler = new Reconciler({
      client: api,
      caches: api.caches(),
      config: DEFAULT_OPERATOR_CONFIG,
      clock: new FakeClock(NOW),
      events: { record: async () => undefined },
      metrics,
      log: quiet,
    });
    const name = ps.metadata.name ?? '';
    await reconciler.reconcile(`ml/${name}`);
    const status = (api.find('PaddleService', 'ml', name) as unknown as PaddleService).status;
    const expected: Record<string, number> = {};
    for (const c of status?.conditions ?? []) if (c.status !== 'Unknown') expected[`${c.type}/${c.reason}`] = c.status === 'True' ? 1 : 0;
    assert.ok(Object.keys(expected).some((k) => k.startsWith('Ready/')) && Object.entries(expected).every(([k, v]) => !k.startsWith('Ready/') || v === 0), 'a fresh PaddleService is not Ready yet');
    assert.deepEqual(await conditionSeries(metrics, 'ml', name), expected);

    api.objects.delete(FakeApi.key('PaddleService', 'ml', name));
    await reconciler.reconcile(`ml/${name}`);
    assert.deepEqual(await conditionSeries(metrics, 'ml', name), {}, 'no stale series after deletion');
  });
});
