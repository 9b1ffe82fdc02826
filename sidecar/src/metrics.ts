// Prometheus metrics on an injected registry (never the global one). Names follow the
// ecosystem's style: base units (seconds, bytes), `_total` counters.

import { Counter, Gauge, type Registry } from 'prom-client';

export interface SidecarMetrics {
  requestDuration: RequestHistogram<'model' | 'device' | 'code' | 'seq_len_bucket'>;
  requests: RequestCounter<'model' | 'path' | 'code'>;
  failures: Counter<'model' | 'reason'>;
  /** In-flight inferences: a plain number the gauge reads at scrape time. */
  inflight: { inc(): void; dec(): void; value(): number };
  breakerState: Gauge<'group'>;
  breakerTrips: Counter<'group'>;
  rateLimited: Counter<'domain'>;
  shed: Counter;
  servingMode: Gauge<'mode'>;
  gpuMemoryUsed: Gauge;
  gpuMemoryTotal: Gauge;
  cpuUtilization: Gauge;
  auditBufferDepth: Gauge;
  auditDropped: Counter;
  auditSent: Counter;
  logDeadLetters: Counter;
  connectionsClosed: Counter<'listener' | 'reason'>;
  configReloads: Counter<'result'>;
  modelReady: Gauge;
  reportPatches: Counter<'result'>;
}

export const BREAKER_STATE_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

export function createMetrics(registry: Registry): SidecarMetrics {
  const registers = [registry];
  let inflight = 0;
  new Gauge({
    name: 'paddle_inflight_requests',
    help: 'Inference requests in flight',
    registers,
    collect() {
      this.set(inflight);
    },
  });
  return {
    requestDuration: new RequestHistogram(registry, {
      name: 'paddle_request_duration_seconds',
      help: 'Inference request duration in seconds, from arrival to response',
      labelNames: ['model', 'device', 'code', 'seq_len_bucket'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    requests: new RequestCounter(registry, { name: 'paddle_requests_total', help: 'HTTP requests served, by path and status code', labelNames: ['model', 'path', 'code'] }),
    failures: new Counter({ name: 'paddle_request_failures_total', help: 'Failed requests by reason', labelNames: ['model', 'reason'], registers }),
    inflight: {
      inc: () => void inflight++,
      dec: () => void inflight--,
      value: () => inflight,
    },
    breakerState: new Gauge({ name: 'paddle_breaker_state', help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open', labelNames: ['group'], registers }),
    breakerTrips: new Counter({ name: 'paddle_breaker_trips_total', help: 'Circuit breaker trips', labelNames: ['group'], registers }),
    rateLimited: new Counter({ name: 'paddle_rate_limited_total', help: 'Requests refused by the rate limiter', labelNames: ['domain'], registers }),
    shed: new Counter({ name: 'paddle_shed_total', help: 'Requests shed by the degradation tree', registers }),
    servingMode: new Gauge({ name: 'paddle_serving_mode', help: 'Current serving mode (1 for the active mode)', labelNames: ['mode'], registers }),
    gpuMemoryUsed: new Gauge({ name: 'paddle_gpu_memory_used_bytes', help: 'GPU memory used on the device, bytes', registers }),
    gpuMemoryTotal: new Gauge({ name: 'paddle_gpu_memory_total_bytes', help: 'GPU memory total on the device, bytes', registers }),
    cpuUtilization: new Gauge({ name: 'paddle_cpu_utilization_ratio', help: 'Sampled CPU utilization (0..1) the degradation tree sees', registers }),
    auditBufferDepth: new Gauge({ name: 'paddle_audit_buffer_depth', help: 'Audit records waiting to be delivered', registers }),
    auditDropped: new Counter({ name: 'paddle_audit_dropped_total', help: 'Audit records dropped because the buffer was full', registers }),
    auditSent: new Counter({ name: 'paddle_audit_sent_total', help: 'Audit records written to the receiver (a record resent after a reconnect counts again)', registers }),
    logDeadLetters: new Counter({ name: 'paddle_log_dead_letters_total', help: 'Log records that failed the log schema and went to the dead-letter sink', registers }),
    connectionsClosed: new Counter({ name: 'paddle_connections_closed_total', help: "Connections the sidecar closed by listener (rest, grpc, metrics): past the listener's cap: the newcomer when every connection held had a request in progress (limit), else the oldest connection holding no request, to let the newcomer in (evicted); with nothing moving for the idle timeout (idle; rest and metrics, and grpc connections that sent no byte by the header deadline; grpc-js closes its own idle sessions uncounted), receiving request messages (grpc), or having answers taken (rest, grpc), below the minimum rate (slow), among the slowest takers while the answers held in the process were over --max-held-answer-bytes (held; rest), after a request node could not parse (malformed: 400, 431; rest and metrics), or whose headers missed the header deadline (header_timeout: 408; on grpc, an h2c connection whose HTTP/2 preface was not whole by then)", labelNames: ['listener', 'reason'], registers }),
    configReloads: new Counter({ name: 'paddle_config_reloads_total', help: 'Config file reloads by result', labelNames: ['result'], registers }),
    modelReady: new Gauge({ name: 'paddle_model_ready', help: '1 when the model is loaded, verified and the self-check passed', registers }),
    reportPatches: new Counter({ name: 'paddle_pod_report_patches_total', help: 'Pod reports by result: ok and error are writes, unchanged a report not written (equal to the last one, within the heartbeat)', labelNames: ['result'], registers }),
  };
}

// ---- the two per-request series, without prom-client's per-call work
//
// prom-client builds a label-hash string on every inc()/observe(), even through a bound child;
// at several thousand requests a second that is a measurable share of the request path. The
// request counter and the duration histogram below keep plain numbers per label tuple (found
// through one Map per label, no key string built) and hand prom-client the values only when the
// registry is scraped. They register on the same registry, with the same names, label names
// and exposition format as prom-client's Counter and Histogram.

/**
 * Label values -> one cell, through one Map per label. Not bounded: every label of these series
 * comes from a closed set (the configured model, route patterns, status codes, devices, the
 * configured sequence-length buckets), never from raw request text.
 */
class LabelTuples<T> {
  private readonly root = new Map<string, unknown>();
  readonly all: { values: string[]; cell: T }[] = [];
  constructor(
    private readonly arity: number,
    private readonly create: () => T,
  ) {}

  get(values: readonly string[]): T {
    if (values.length !== this.arity) throw new RangeError(`expected ${this.arity} label values, got ${values.length}`);
    let level = this.root;
    for (let i = 0; i < this.arity - 1; i++) {
      const v = values[i] as string;
      let next = level.get(v) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(v, next);
      }
      level = next;
    }
    const last = values[this.arity - 1] as string;
    let cell = level.get(last) as T | undefined;
    if (cell === undefined) {
      cell = this.create();
      level.set(last, cell);
      this.all.push({ values: [...values], cell });
    }
    return cell;
  }
}

/** What prom-client's registry reads of a metric (its get() result). */
interface SeriesSnapshot {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

interface SeriesOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
}

function labelObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((n, i) => (out[n] = values[i] as string));
  return out;
}

/**
 * What both series share: the name, help and label names prom-client's registry reads, one cell
 * per label tuple, and registration on the registry (prom-client's registry asks only for these
 * fields and get()).
 */
abstract class LabelledSeries<L extends string, Cell> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  readonly labelNames: readonly L[];
  protected readonly tuples: LabelTuples<Cell>;

  constructor(registry: Registry, o: SeriesOptions<L>, cell: () => Cell) {
    this.name = o.name;
    this.help = o.help;
    this.labelNames = o.labelNames;
    this.tuples = new LabelTuples(o.labelNames.length, cell);
    registry.registerMetric(this as never);
  }

  /** The series of one label tuple (values in labelNames order); keep it or look it up again, both are cheap. */
  labels(...values: string[]): Cell {
    return this.tuples.get(values);
  }

  abstract get(): Promise<SeriesSnapshot>;
}

/** One counter series. */
export class CounterCell {
  n = 0;
  inc(by = 1): void {
    this.n += by;
  }
}

/** A counter by label tuple (prom-client `counter` exposition). */
export class RequestCounter<L extends string> extends LabelledSeries<L, CounterCell> {
  readonly type = 'counter' as const;

  constructor(registry: Registry, o: SeriesOptions<L>) {
    super(registry, o, () => new CounterCell());
  }

  get(): Promise<SeriesSnapshot> {
    const values = this.tuples.all.map((t) => ({ labels: labelObject(this.labelNames, t.values), value: t.cell.n }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}

/** One histogram series: observations per bucket (not cumulative; the last slot is +Inf). */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly edges: readonly number[]) {
    this.counts = new Float64Array(edges.length + 1);
  }
  observe(v: number): void {
    const edges = this.edges;
    let i = 0;
    while (i < edges.length && v > (edges[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sum += v;
    this.count++;
  }
}

/** A histogram by label tuple (prom-client `histogram` exposition: _bucket with le, _sum, _count). */
export class RequestHistogram<L extends string> extends LabelledSeries<L, HistogramCell> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(registry: Registry, o: SeriesOptions<L> & { buckets: readonly number[] }) {
    const edges = [...o.buckets].sort((a, b) => a - b);
    super(registry, o, () => new HistogramCell(edges));
    this.buckets = edges;
  }

  get(): Promise<SeriesSnapshot> {
    const values: SeriesSnapshot['values'] = [];
    for (const t of this.tuples.all) {
      const labels = labelObject(this.labelNames, t.values);
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += t.cell.counts[i] as number;
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: t.cell.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: t.cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: t.cell.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}
