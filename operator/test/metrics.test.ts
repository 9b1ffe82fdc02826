import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Gauge, Registry } from 'prom-client';
import type { Condition, PaddleService } from '../../crds/src/index.js';
import { DEFAULT_OPERATOR_CONFIG } from '../src/builders/index.js';
import { CONDITION_METRIC } from '../src/condition-metric.js';
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

describe('paddle_operator_paddleservice_condition text', () => {
  type Conds = Array<Pick<Condition, 'type' | 'status' | 'reason'>>;
  /** The same sequence of sets through a prom-client Gauge (the oracle) and through OperatorMetrics. */
  async function both(steps: Array<[string, string, Conds | undefined]>): Promise<{ ours: string; promClient: string }> {
    const m = new OperatorMetrics(new Registry(), false);
    const reg = new Registry();
    const help = (await m.metrics()).split('\n').find((l) => l.startsWith(`# HELP ${CONDITION_METRIC} `))?.slice(`# HELP ${CONDITION_METRIC} `.length) ?? '';
    const g = new Gauge({ name: CONDITION_METRIC, help, labelNames: ['paddleservice_namespace', 'paddleservice', 'condition', 'reason'], registers: [reg] });
    const seen = new Map<string, Conds>();
    for (const [ns, name, conds] of steps) {
      m.setConditions(ns, name, conds);
      for (const c of seen.get(`${ns}/${name}`) ?? []) g.remove({ paddleservice_namespace: ns, paddleservice: name, condition: c.type, reason: c.reason });
      const kept = (conds ?? []).filter((c) => c.status !== 'Unknown');
      for (const c of kept) g.set({ paddleservice_namespace: ns, paddleservice: name, condition: c.type, reason: c.reason }, c.status === 'True' ? 1 : 0);
      seen.set(`${ns}/${name}`, kept);
    }
    return { ours: await m.metrics(), promClient: await reg.metrics() };
  }
  const sorted = (text: string) => text.split('\n').filter((l) => l.startsWith(CONDITION_METRIC) || l.startsWith(`# HELP ${CONDITION_METRIC}`) || l.startsWith(`# TYPE ${CONDITION_METRIC}`)).sort();

  it('has the lines prom-client writes for the same series (escaping included), as the last family of /metrics', async () => {
    const { ours, promClient } = await both([
      ['ml', 'a', [{ type: 'Ready', status: 'False', reason: 'DeploymentUnavailable' }, { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }]],
      ['ml', 'b', [{ type: 'Ready', status: 'True', reason: 'Ready' }, { type: 'ModelVerified', status: 'Unknown', reason: 'AwaitingReports' }]],
      ['other', 'c', [{ type: 'Degraded', status: 'True', reason: 'quote " backslash \\ newline \n end' }]],
      ['ml', 'a', [{ type: 'Ready', status: 'True', reason: 'Ready' }]],
      ['ml', 'b', undefined],
    ]);
    assert.deepEqual(sorted(ours), sorted(promClient));
    assert.equal(sorted(ours).filter((l) => l.startsWith(`${CONDITION_METRIC}{`)).length, 2);
    assert.ok(ours.includes('reason="quote \\" backslash \\\\ newline \\n end"} 1'), ours);
    assert.ok(ours.endsWith(`${CONDITION_METRIC}{paddleservice_namespace="other",paddleservice="c",condition="Degraded",reason="quote \\" backslash \\\\ newline \\n end"} 1\n`) || ours.endsWith(`reason="Ready"} 1\n`), 'the family closes the text');
  });

  it('with no series: the HELP and TYPE lines only, after a blank line', async () => {
    const m = new OperatorMetrics(new Registry(), false);
    m.reconcileTotal.inc({ result: 'success' });
    const text = await m.metrics();
    assert.match(text, /paddle_operator_reconcile_total\{result="success"\} 1\n/);
    assert.match(text, /\n\n# HELP paddle_operator_paddleservice_condition [^\n]*\n# TYPE paddle_operator_paddleservice_condition gauge\n$/);
  });
});
