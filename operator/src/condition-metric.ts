// paddle_operator_paddleservice_condition: one series per PaddleService condition that is True
// or False. It is the one metric family whose size grows with the fleet (about 6 series per
// PaddleService, 6000 at 1000 PaddleServices), and prom-client formats every series again at
// every scrape (label escaping, joins): about 50 ms of the event loop per scrape at 1000
// PaddleServices, while a reconcile changes a PaddleService's series rarely. So each
// PaddleService's lines are rendered once, when setConditions changes them, in prom-client's
// text format (the unit test compares both renderings), and /metrics appends the family to the
// registry's text (OperatorMetrics.metrics()).

import type { Condition } from '../../crds/src/index.js';

export const CONDITION_METRIC = 'paddle_operator_paddleservice_condition';
const HELP = 'Status conditions of each PaddleService as the operator computed them, with their reason: 1 True, 0 False (no series while Unknown).';

/**
 * Label names of the per-PaddleService condition gauge. Not `namespace`: Prometheus gives every
 * scraped series the target's own `namespace` (the operator's), and with honorLabels off (the
 * chart's default) a metric label of that name would be renamed to `exported_namespace`.
 */
export type ConditionLabel = 'paddleservice_namespace' | 'paddleservice' | 'condition' | 'reason';

interface Series {
  condition: string;
  reason: string;
  value: 0 | 1;
}

/** A label value as the Prometheus text format (and prom-client) writes it. */
function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function renderSeries(namespace: string, name: string, series: readonly Series[]): string {
  const ns = escapeLabelValue(namespace);
  const n = escapeLabelValue(name);
  let out = '';
  for (const s of series) {
    out += `\n${CONDITION_METRIC}{paddleservice_namespace="${ns}",paddleservice="${n}",condition="${escapeLabelValue(s.condition)}",reason="${escapeLabelValue(s.reason)}"} ${s.value}`;
  }
  return out;
}

export class ConditionGauge {
  /** namespace/name -> its series and their rendered lines (each line preceded by a newline). */
  readonly #byService = new Map<string, { namespace: string; name: string; series: Series[]; text: string }>();

  /**
   * Sets the series of one PaddleService from its conditions: True -> 1, False -> 0, Unknown or
   * absent -> no series (a changed reason replaces the old reason's series).
   */
  set(namespace: string, name: string, conditions: readonly Pick<Condition, 'type' | 'status' | 'reason'>[] | undefined): void {
    const key = `${namespace}/${name}`;
    const series: Series[] = [];
    for (const c of conditions ?? []) {
      if (c.status !== 'True' && c.status !== 'False') continue;
      series.push({ condition: c.type, reason: c.reason, value: c.status === 'True' ? 1 : 0 });
    }
    if (series.length === 0) {
      this.#byService.delete(key);
      return;
    }
    const before = this.#byService.get(key);
    if (before && before.series.length === series.length && before.series.every((s, i) => s.condition === series[i]?.condition && s.reason === series[i]?.reason && s.value === series[i]?.value)) return;
    this.#byService.set(key, { namespace, name, series, text: renderSeries(namespace, name, series) });
  }

  /** Drops every series. */
  reset(): void {
    this.#byService.clear();
  }

  /** Every series with its labels (prom-client's get() shape, for tests and readers in process). */
  get(): { values: Array<{ labels: Record<ConditionLabel, string>; value: number }> } {
    const values: Array<{ labels: Record<ConditionLabel, string>; value: number }> = [];
    for (const { namespace, name, series } of this.#byService.values()) {
      for (const s of series) values.push({ labels: { paddleservice_namespace: namespace, paddleservice: name, condition: s.condition, reason: s.reason }, value: s.value });
    }
    return { values };
  }

  /** The family in the Prometheus text format, without a trailing newline (as prom-client renders one). */
  render(): string {
    let out = `# HELP ${CONDITION_METRIC} ${HELP}\n# TYPE ${CONDITION_METRIC} gauge`;
    for (const s of this.#byService.values()) out += s.text;
    return out;
  }
}
