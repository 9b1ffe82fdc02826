// The alert rules: valid PromQL by Prometheus's own parser (charts/test/promql), over metric
// and label names the sidecar and the operator really register, with the checklist's numbers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Registry } from 'prom-client';
import { BREAKER_STATE_VALUE, createMetrics } from '../../sidecar/src/metrics.js';
import { OperatorMetrics } from '../../operator/src/metrics.js';
import { ALL_OPTIONS_VALUES, only, render, type RenderedObject } from './lib/chart.js';
import { parseExposition } from './lib/exposition.js';

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface CheckResult {
  name: string;
  type?: string;
  metrics: string[];
  labels: string[];
  error?: string;
}

/** Labels Prometheus adds to every series from the scrape target (Prometheus Operator's relabeling). */
const TARGET_LABELS = new Set(['namespace', 'pod', 'container', 'service', 'endpoint', 'instance', 'job']);

function rulesOf(objects: RenderedObject[]): Rule[] {
  const pr = only(objects, 'PrometheusRule') as RenderedObject & { spec: { groups: { name: string; rules: Rule[] }[] } };
  return pr.spec.groups.flatMap((g) => g.rules);
}

function promqlCheck(rules: Rule[]): { code: number; results: CheckResult[]; stderr: string } {
  const bin = process.env.PROMQL_CHECK;
  if (!bin || !existsSync(bin)) throw new Error(`PROMQL_CHECK=${bin ?? ''} is not built: run make test-chart (it builds charts/test/promql)`);
  const input = JSON.stringify(rules.map((r) => ({ name: r.alert, expr: r.expr, for: r.for })));
  const r = spawnSync(bin, [], { input, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, results: r.stdout ? (JSON.parse(r.stdout) as CheckResult[]) : [], stderr: r.stderr };
}

/**
 * Families the operator serves beside its registry (OperatorMetrics.metrics() appends them):
 * names and label names read from the served text, with one PaddleService's conditions set so
 * the per-PaddleService family has series to read the labels from.
 */
async function servedBesideRegistry(operator: OperatorMetrics): Promise<Map<string, Set<string>>> {
  const inRegistry = new Set((await operator.registry.getMetricsAsJSON()).map((m) => m.name));
  operator.setConditions('ns', 'ps', [{ type: 'Ready', status: 'True', reason: 'Serving' }]);
  const text = await operator.metrics();
  const out = new Map<string, Set<string>>();
  for (const [, name] of text.matchAll(/^# TYPE (\S+) /gm)) {
    if (name === undefined || inRegistry.has(name)) continue;
    out.set(name, new Set(parseExposition(text, name).flatMap((x) => Object.keys(x.labels))));
  }
  return out;
}

/** Exported series names -> label names, from the real metric registries of both components and what the operator's /metrics serves beside its registry. */
async function exportedSeries(): Promise<Map<string, Set<string>>> {
  const sidecar = new Registry();
  createMetrics(sidecar);
  const operator = new OperatorMetrics(new Registry(), false);
  const out = new Map<string, Set<string>>();
  for (const registry of [sidecar, operator.registry]) {
    for (const json of await registry.getMetricsAsJSON()) {
      const name = json.name;
      // prom-client keeps the declared label names on the metric object (not in its typings).
      const metric = registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined;
      const labels = new Set(metric?.labelNames ?? []);
      const type = String(json.type);
      if (type === 'histogram') {
        out.set(`${name}_bucket`, new Set([...labels, 'le']));
        out.set(`${name}_sum`, labels);
        out.set(`${name}_count`, labels);
      } else {
        out.set(name, labels);
      }
    }
  }
  for (const [name, labels] of await servedBesideRegistry(operator)) out.set(name, labels);
  return out;
}

describe('chart PrometheusRule', () => {
  const defaults = rulesOf(render({ set: { 'metrics.prometheusRule.enabled': true } }));
  const allOptions = rulesOf(render({ valuesFiles: [ALL_OPTIONS_VALUES] }));

  it('has the six alerts: 5xx ratio, breaker open, P95 over target, model not ready, model verification failed, reconcile errors', () => {
    assert.deepEqual(defaults.map((r) => r.alert).sort(), [
      'PaddleOperatorReconcileErrors',
      'PaddleServiceBreakerOpen',
      'PaddleServiceHighErrorRate',
      'PaddleServiceLatencyP95High',
      'PaddleServiceModelNotReady',
      'PaddleServiceModelVerificationFailed',
    ]);
    for (const r of defaults) {
      assert.ok(r.labels.severity, `${r.alert}: severity`);
      assert.ok(r.annotations.summary && r.annotations.description, `${r.alert}: summary and description`);
    }
  });

  for (const [name, rules] of [['defaults', defaults], ['every option set', allOptions]] as const) {
    it(`parses with Prometheus's PromQL parser, each expression an instant vector (${name})`, () => {
      const { code, results, stderr } = promqlCheck(rules);
      assert.equal(results.length, rules.length, stderr);
      for (const r of results) {
        assert.equal(r.error, undefined, `${r.name}: ${r.error ?? ''}`);
        assert.equal(r.type, 'vector', `${r.name}: alert expressions must be instant vectors`);
      }
      assert.equal(code, 0, stderr);
    });
  }

  it('the parser really refuses broken PromQL (the check can fail)', () => {
    const broken = [{ ...(defaults[0] as Rule), alert: 'Broken', expr: 'sum(rate(paddle_requests_total[5m])' }];
    const { code, results } = promqlCheck(broken);
    assert.notEqual(code, 0);
    assert.match(results[0]?.error ?? '', /parse error/);
  });

  it('uses only metric names the sidecar and the operator register, and only their labels or the scrape target\'s', async () => {
    const series = await exportedSeries();
    const { results } = promqlCheck(defaults);
    for (const r of results) {
      assert.ok(r.metrics.length > 0, `${r.name} selects no metric`);
      const available = new Set(TARGET_LABELS);
      for (const m of r.metrics) {
        const labels = series.get(m);
        assert.ok(labels, `${r.name}: metric ${m} is exported by neither the sidecar nor the operator`);
        for (const l of labels) available.add(l);
      }
      for (const l of r.labels) assert.ok(available.has(l), `${r.name}: label ${l} is on none of ${r.metrics.join(', ')} nor a target label`);
    }
  });

  it('5xx ratio above 1 % for 5 minutes by default (checklist 5), threshold and duration from values', () => {
    const def = defaults.find((r) => r.alert === 'PaddleServiceHighErrorRate') as Rule;
    assert.match(def.expr, /paddle_requests_total\{code=~"5\.\."\}/);
    assert.match(def.expr, /\) > 0\.01$/);
    assert.equal(def.for, '5m');
    const all = allOptions.find((r) => r.alert === 'PaddleServiceHighErrorRate') as Rule;
    assert.match(all.expr, /\) > 0\.02$/);
    assert.equal(all.for, '10m');
    assert.equal(all.labels.team, 'ml-platform');
  });

  it('"breaker open" compares with the value the sidecar exports for open', () => {
    const rule = defaults.find((r) => r.alert === 'PaddleServiceBreakerOpen') as Rule;
    assert.match(rule.expr, new RegExp(`paddle_breaker_state\\) == ${BREAKER_STATE_VALUE.open}$`));
  });

  it('"model verification failed" reads the operator\'s ModelVerified condition gauge, not when verification is disabled', () => {
    const rule = defaults.find((r) => r.alert === 'PaddleServiceModelVerificationFailed') as Rule;
    assert.match(rule.expr, /paddle_operator_paddleservice_condition\{condition="ModelVerified", reason!="VerificationDisabled"\}/);
    assert.match(rule.expr, /\) == 0$/);
    assert.equal(rule.for, '5m');
    const all = allOptions.find((r) => r.alert === 'PaddleServiceModelVerificationFailed') as Rule;
    assert.equal(all.for, '15m');
    assert.equal(all.labels.severity, 'warning');
  });

  it('P95 is computed from the request duration histogram against the target in seconds', () => {
    const rule = allOptions.find((r) => r.alert === 'PaddleServiceLatencyP95High') as Rule;
    assert.match(rule.expr, /histogram_quantile\(0\.95,/);
    assert.match(rule.expr, /> 0\.25$/);
  });
});
