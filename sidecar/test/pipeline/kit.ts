// What the stage tests share: a metrics registry, loggers whose lines the test reads back, a
// config, and the tracer main.ts runs without an exporter (real ids, no recording).

import { Registry } from 'prom-client';
import { defaultSidecarConfig, type SidecarConfig } from '../../src/config.js';
import { createLoggers, type SidecarLoggers } from '../../src/logging.js';
import { createMetrics, type SidecarMetrics } from '../../src/metrics.js';
import { IdOnlyTracer } from '../../src/tracing.js';

export interface Kit {
  registry: Registry;
  metrics: SidecarMetrics;
  loggers: SidecarLoggers;
  /** Every log line written, parsed. */
  lines: Record<string, unknown>[];
  config: SidecarConfig;
  tracer: IdOnlyTracer;
}

export function kit(overrides: Record<string, unknown> = {}): Kit {
  const registry = new Registry();
  const lines: Record<string, unknown>[] = [];
  const loggers = createLoggers({
    service: 'paddle-sidecar',
    sinks: { out: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }, deadLetter: { write: (l: string) => { throw new Error(`dead letter: ${l}`); } } },
  });
  return { registry, metrics: createMetrics(registry), loggers, lines, config: defaultSidecarConfig('mlp', overrides), tracer: new IdOnlyTracer() };
}

/** A series' value from the exposition text, for these labels (0 when the series is absent). */
export async function metricValue(k: Kit, name: string, labels: Record<string, string> = {}): Promise<number> {
  for (const line of (await k.registry.metrics()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([a, b]) => have.get(a) === b)) return Number(m[3]);
  }
  return 0;
}
