// The PaddleServiceModelVerificationFailed alert over a rollout: the operator's own code (fold
// of pod reports -> computeStatus -> the condition gauge it exports) is driven through a rollout
// of three pods from one model digest to another, one pod replaced every 3 minutes (large models
// load slowly), scraped every 30 s; the chart's rendered rule is evaluated over the scraped series the way Prometheus does
// (the expression at each evaluation, `for` held continuously per label set). A healthy rollout
// must not fire it; a rollout whose new pods refuse their model must, and so must the same
// healthy rollout folded without the pods' template hashes (what the operator did before reports
// carried them): both show the check can fail.
//
// The evaluator is ours and covers exactly this rule's shape (a `max by (...)` over one
// selector, compared `== 0`); the test first checks the rendered rule has that shape, so a
// rewritten rule fails here instead of being evaluated wrongly. Its PromQL is parsed by
// Prometheus's own parser in prometheus-rules.test.ts.
import assert from 'node:assert/strict';
import type { V1Deployment } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { PaddleService, PodReport } from '../../crds/src/index.js';
import { OperatorMetrics } from '../../operator/src/metrics.js';
import { computeStatus } from '../../operator/src/status/compute-status.js';
import { foldReports } from '../../operator/src/status/fleet.js';
import { loadExample } from '../../operator/test/fixtures.js';
import { NOW, report } from '../../operator/test/reports.js';
import { only, render, type RenderedObject } from './lib/chart.js';
import { parseExposition, type Sample } from './lib/exposition.js';

interface Rule {
  alert: string;
  expr: string;
  for: string;
}

const rules = (only(render({ set: { 'metrics.prometheusRule.enabled': true } }), 'PrometheusRule') as RenderedObject & { spec: { groups: { rules: Rule[] }[] } }).spec.groups.flatMap((g) => g.rules);
const rule = rules.find((r) => r.alert === 'PaddleServiceModelVerificationFailed') as Rule;

interface Shape {
  metric: string;
  matchers: Array<{ label: string; op: '=' | '!='; value: string }>;
  by: string[];
  forMs: number;
}

/** The rule's parts, or a failed assertion when it no longer has the shape evaluated here. */
function shapeOf(r: Rule): Shape {
  const m = /^max by \(([^)]*)\) \(\s*([a-z_:]+)\{([^}]*)\}\s*\) == 0$/s.exec(r.expr.trim());
  assert.ok(m, `the rule's expression changed shape; update this evaluator: ${r.expr}`);
  const matchers = [...(m[3] ?? '').matchAll(/([a-z_]+)\s*(=|!=)\s*"([^"]*)"/g)].map((x) => ({ label: x[1] ?? '', op: x[2] as '=' | '!=', value: x[3] ?? '' }));
  const f = /^(\d+)m$/.exec(r.for);
  assert.ok(f, `for: ${r.for}`);
  return { metric: m[2] ?? '', matchers, by: (m[1] ?? '').split(',').map((s) => s.trim()), forMs: Number(f[1]) * 60_000 };
}

/** The label sets for which the expression holds at one evaluation. */
function holding(shape: Shape, samples: Sample[]): Set<string> {
  const groups = new Map<string, number>();
  for (const s of samples) {
    if (!shape.matchers.every((m) => (m.op === '=' ? s.labels[m.label] === m.value : s.labels[m.label] !== m.value))) continue;
    const key = shape.by.map((l) => `${l}=${s.labels[l] ?? ''}`).join(',');
    groups.set(key, Math.max(groups.get(key) ?? -Infinity, s.value));
  }
  return new Set([...groups].filter(([, v]) => v === 0).map(([k]) => k));
}

const gpu = loadExample('gpu.yaml');
const OLD = 'template-old';
const NEW = 'template-new';
const STEP_MS = 30_000;
const deployment = { spec: { replicas: 3 }, status: { replicas: 4, readyReplicas: 3, availableReplicas: 3, conditions: [{ type: 'Available', status: 'True' }] } } as V1Deployment;
const certReady = { wanted: true as const, object: { status: { conditions: [{ type: 'Ready', status: 'True' }] } } };

/**
 * Runs a rollout of 3 pods, one replaced every 3 minutes (a new pod's report first, the old one
 * gone a step later), for 12 minutes; returns the label sets the alert fired for.
 */
async function rollout(o: { newVerifies: boolean; templateAware: boolean }): Promise<{ fired: string[]; reasons: Set<string> }> {
  const shape = shapeOf(rule);
  const metrics = new OperatorMetrics(new Registry(), false);
  let ps: PaddleService = { ...gpu, status: {} };
  const pendingSince = new Map<string, number>();
  const fired = new Set<string>();
  const reasons = new Set<string>();
  for (let t = 0; t <= 12 * 60_000; t += STEP_MS) {
    const replaced = Math.min(3, Math.floor(t / 180_000) + (t > 0 ? 1 : 0));
    const reports: Record<string, PodReport> = {};
    const at = new Date(NOW - 1_000).toISOString();
    for (let i = 0; i < 3; i++) {
      if (i < replaced) {
        reports[`new-${i}`] = report({
          reportedAt: at,
          ...(o.templateAware ? { templateHash: NEW } : {}),
          ready: o.newVerifies,
          model: { ...report().model, digest: 'sha256:new', verified: o.newVerifies },
          ...(o.newVerifies ? {} : { message: 'signature does not verify' }),
        });
        // The old pod this one replaces stays one step longer (maxSurge 1, maxUnavailable 0).
        if (t % 180_000 === 0 && i === replaced - 1 && t > 0) reports[`old-${i}`] = report({ reportedAt: at, ...(o.templateAware ? { templateHash: OLD } : {}), model: { ...report().model, digest: 'sha256:old' } });
      } else {
        reports[`old-${i}`] = report({ reportedAt: at, ...(o.templateAware ? { templateHash: OLD } : {}), model: { ...report().model, digest: 'sha256:old' } });
      }
    }
    const fleet = foldReports({ reports, livePods: new Set(Object.keys(reports)), now: NOW, spec: gpu.spec, ...(o.templateAware ? { templateHash: NEW } : {}) });
    const status = computeStatus({ ps, now: NOW + t, desiredReplicas: 3, deployment, certificate: certReady, fleet });
    ps = { ...ps, status };
    metrics.setConditions('ml', 'ernie', status.conditions);
    const mv = status.conditions?.find((c) => c.type === 'ModelVerified');
    if (mv) reasons.add(`${mv.status}/${mv.reason}`);
    // Scrape what /metrics serves, then evaluate the rule as Prometheus does at each evaluation.
    const now = holding(shape, parseExposition(await metrics.metrics(), shape.metric));
    for (const key of [...pendingSince.keys()]) if (!now.has(key)) pendingSince.delete(key);
    for (const key of now) {
      const since = pendingSince.get(key) ?? t;
      pendingSince.set(key, since);
      if (t - since >= shape.forMs) fired.add(key);
    }
  }
  return { fired: [...fired], reasons };
}

describe('PrometheusRule: the model verification alert over a rollout', () => {
  it('the rendered rule has the shape evaluated here', () => {
    const shape = shapeOf(rule);
    assert.equal(shape.metric, 'paddle_operator_paddleservice_condition');
    assert.deepEqual(shape.by, ['paddleservice_namespace', 'paddleservice', 'reason']);
    assert.equal(shape.forMs, 5 * 60_000);
  });

  it('does not fire on a healthy rollout (old and new pods serve different digests for 6 minutes, longer than the 5m of the rule)', async () => {
    const r = await rollout({ newVerifies: true, templateAware: true });
    assert.deepEqual(r.fired, []);
    assert.ok(!r.reasons.has('False/DigestMismatch'), [...r.reasons].join(', '));
  });

  it('fires when the new pods refuse their model', async () => {
    const r = await rollout({ newVerifies: false, templateAware: true });
    assert.deepEqual(r.fired, ['paddleservice_namespace=ml,paddleservice=ernie,reason=VerificationFailed']);
  });

  it('fired on the same healthy rollout when reports carried no template (the check can fail)', async () => {
    const r = await rollout({ newVerifies: true, templateAware: false });
    assert.deepEqual(r.fired, ['paddleservice_namespace=ml,paddleservice=ernie,reason=DigestMismatch']);
  });
});
