// Unit and property tests of the pure parts: config parser, OIP codec, rate limiter, matrix,
// pod report, log schema routing, RFC 5424 formatting. Random input never crashes a parser:
// it either parses or raises the one clear error type.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { buildAuditMessage, escapeSdValue, formatRfc5424, frameOctetCounted } from '../src/audit.js';
import { defaultSidecarConfig, parseSidecarConfig } from '../src/config.js';
import { TokenVerifier } from '../src/auth.js';
import { computeServingMode, CpuSampler, gpuWatermark, parseCpuMaxCores, parseCpuStatUsageUsec } from '../src/degradation.js';
import { SidecarError } from '../src/errors.js';
import { BatchingLineSink, createLoggers, SharedShape } from '../src/logging.js';
import { ObservationMatrix, seqLenBucket, seqLenBucketLabel } from '../src/matrix.js';
import { parseInferRequest, sequenceLength } from '../src/oip.js';
import { buildPodReport, buildReportPatch, computeOpProfile } from '../src/pod-report.js';
import { RateLimiter } from '../src/rate-limiter.js';
import { ManualClock } from './helpers/manual-clock.js';

const INPUTS = [{ name: 'x', dtype: 'float32' as const, shape: [-1, 4] }, { name: 'ids', dtype: 'int64' as const, shape: [-1, -1] }];
const OUTPUTS = [{ name: 'y', dtype: 'float32' as const, shape: [-1, 2] }];

describe('config parser', function () {
  this.timeout(600_000); // property runs are CPU-bound and synchronous: a loaded machine takes longer, never forever
  it('fills the checklist defaults', () => {
    const c = defaultSidecarConfig('m');
    assert.deepEqual(c.auth.policies.map((p) => [p.path, p.domain, p.callsPerMinute]), [
      ['/v2/models/{model}/infer', 'model_inference', 60],
      ['/v1/predict', 'model_inference', 60],
      ['/v1/encrypt_input', 'data_protection', 20],
      ['/v1/export_model', 'model_admin', 5],
    ]);
    assert.equal(c.breaker.latencyMultiplier, 1.8);
    assert.equal(c.breaker.errorRateThreshold, 0.05);
    assert.equal(c.breaker.consecutiveWindows, 3);
    assert.equal(c.breaker.windowSeconds, 10);
    assert.equal(c.breaker.failureThreshold, 10);
    assert.equal(c.breaker.treatmentFailureThreshold, 5);
    assert.deepEqual(c.breaker.recovery, { initialDelaySeconds: 1, maxDelaySeconds: 60, maxBackoffAttempts: 5, jitter: 0.1, requiredPasses: 2, passLatencyMs: 200, probeTimeoutMs: 500 });
    assert.equal(c.degradation.cpuShedWatermark, 0.95);
    assert.equal(c.degradation.gpuFallbackWatermark, 0.9);
    assert.equal(c.matrix.latencyBucketMs, 5);
  });
  it('rejects bad files with a message naming the field', () => {
    const cases: [string, RegExp][] = [
      ['nope', /not valid JSON/],
      ['{"version":2,"model":{"name":"m"}}', /\/version/],
      ['{"version":1,"model":{"name":"../etc"}}', /\/model\/name/],
      ['{"version":1,"model":{"name":"m"},"cors":{"allowedOrigins":["*"]}}', /allowedOrigins/],
      ['{"version":1,"model":{"name":"m"},"auth":{"enabled":true}}', /jwksFile or hmacSecretFile/],
      ['{"version":1,"model":{"name":"m"},"auth":{"enabled":false},"matrix":{"seqLenEdges":[256,128]}}', /strictly increasing/],
      ['{"version":1,"model":{"name":"m"},"auth":{"enabled":false},"breaker":{"errorRateThreshold":2}}', /errorRateThreshold/],
      ['{"version":1,"model":{"name":"m"},"extra":1}', /additional properties/],
    ];
    for (const [text, re] of cases) {
      const r = parseSidecarConfig(text);
      assert.equal(r.ok, false, text);
      assert.match(r.ok ? '' : r.error, re);
    }
  });
  it('never throws on random input (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ version: 1, model: { name: 'm' }, auth: v }))), (text) => {
        const r = parseSidecarConfig(text);
        assert.ok(r.ok || r.error.length > 0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('OIP v2 codec', function () {
  this.timeout(600_000); // property runs are CPU-bound and synchronous: a loaded machine takes longer, never forever
  const good = { inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6, 7, 8] }, { name: 'ids', shape: [2, 3], datatype: 'INT64', data: [[1, 2, 3], [4, 5, '9007199254740993']] }] };
  it('parses flat and nested data, INT64 as numbers or strings', () => {
    const r = parseInferRequest(good, INPUTS, OUTPUTS);
    assert.deepEqual(r.inputs.x?.shape, [2, 4]);
    assert.ok(r.inputs.ids?.data instanceof BigInt64Array);
    assert.equal((r.inputs.ids?.data as BigInt64Array)[5], 9007199254740993n);
    assert.equal(sequenceLength(r.inputs), 4);
  });
  it('nested data must nest exactly as the shape: ragged, partly nested or too deep is refused naming where, even when the count matches', () => {
    const msg = (data: unknown, shape: number[] = [3, 4]): string => {
      try {
        parseInferRequest({ inputs: [{ name: 'x', shape, datatype: 'FP32', data }, { name: 'ids', shape: [1, 1], datatype: 'INT64', data: [[1]] }] }, INPUTS, OUTPUTS);
      } catch (err) {
        assert.ok(err instanceof SidecarError && err.httpStatus === 400, String(err));
        return err.message;
      }
      return 'accepted';
    };
    const row = [1, 2, 3, 4];
    assert.equal(msg([row, row, row]), 'accepted');
    assert.equal(msg([...row, ...row, ...row]), 'accepted', 'flat row-major data as before');
    // 12 values each time, nested otherwise than [3, 4]:
    assert.equal(msg([[1, 2, 3], [4, 5, 6, 7, 8], row]), 'input x: data[0] has 3 elements, shape[1] is 4');
    assert.equal(msg([row, [...row, ...row]]), 'input x: data has 2 elements, shape[0] is 3');
    assert.equal(msg([row, 1, 2, 3, 4, row]), 'input x: data has 6 elements, shape[0] is 3');
    assert.equal(msg([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, [12]]]), 'input x: data[2][3] is nested deeper than the shape\'s 2 dims');
    assert.equal(msg([[row], [row], [row]]), 'input x: data[0] has 1 elements, shape[1] is 4');
    assert.equal(msg([row, 5, 6, 7, 8], [2, 4]), 'input x: data has 5 elements, shape[0] is 2');
    assert.equal(msg([row, 5], [2, 4]), 'input x: data[1] is not an array, but the shape has 2 dims (shape[1] is 4)');
  });

  it('data nested exactly as the shape parses to the same tensor as the flat data (property)', () => {
    const x = { name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 25, maxLength: 25 }), (a, b, pool) => {
        const flat = pool.slice(0, a * b);
        const nested = Array.from({ length: a }, (_, i) => flat.slice(i * b, (i + 1) * b));
        const parse = (data: unknown) => parseInferRequest({ inputs: [x, { name: 'ids', shape: [a, b], datatype: 'INT64', data }] }, INPUTS, OUTPUTS).inputs.ids;
        assert.deepEqual(parse(nested), parse(flat));
      }),
      { numRuns: 500 },
    );
  });

  it('each output may be requested once (a repeated name would be answered once per repeat)', () => {
    const body = { ...good, outputs: [{ name: 'y' }, { name: 'y', parameters: { binary_data: true } }] };
    assert.throws(() => parseInferRequest(body, INPUTS, OUTPUTS), (e: unknown) => e instanceof SidecarError && e.httpStatus === 400 && e.message === 'output y is requested twice');
    assert.deepEqual(parseInferRequest({ ...good, outputs: [{ name: 'y' }] }, INPUTS, OUTPUTS).outputs, ['y']);
  });
  it('a shape dim is refused naming what is wrong with it', () => {
    const msg = (dim: unknown): string => {
      try {
        parseInferRequest({ inputs: [{ name: 'x', shape: [dim, 4], datatype: 'FP32', data: [] }] }, INPUTS, OUTPUTS);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.equal(msg(-1), 'input x: shape[0] must be a non-negative integer');
    assert.equal(msg(1.5), 'input x: shape[0] must be a non-negative integer');
    assert.equal(msg('2'), 'input x: shape[0] must be a non-negative integer');
    // A dim that is a non-negative integer, only too large: say so (2^31, 2^53 were "must be a non-negative integer").
    assert.equal(msg(2 ** 31), 'input x: shape[0] 2147483648 is above the largest dim, 67108864');
    assert.equal(msg(2 ** 53), 'input x: shape[0] 9007199254740992 is above the largest dim, 67108864');
  });
  it('random bodies either parse or raise a bad_request SidecarError (property)', () => {
    const tensor = fc.record({
      name: fc.oneof(fc.constant('x'), fc.constant('ids'), fc.string()),
      shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 5 }), { maxLength: 3 }), fc.jsonValue()),
      datatype: fc.oneof(fc.constantFrom('FP32', 'INT64', 'INT32', 'BYTES'), fc.string()),
      data: fc.oneof(fc.array(fc.oneof(fc.double(), fc.integer(), fc.string())), fc.jsonValue()),
    });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ inputs: fc.array(tensor, { maxLength: 3 }), outputs: fc.option(fc.jsonValue()) })), (body) => {
        try {
          parseInferRequest(body, INPUTS, OUTPUTS);
        } catch (err) {
          assert.ok(err instanceof SidecarError, String(err));
          assert.equal(err.httpStatus, 400);
          assert.ok(err.message.length > 0);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('rate limiter', () => {
  it('allows callsPerMinute, then 429 with the wait; refills over time', async () => {
    const clock = new ManualClock();
    const l = new RateLimiter(100, clock);
    for (let i = 0; i < 5; i++) assert.equal(l.take('a', 'model_admin', 5).ok, true);
    const denied = l.take('a', 'model_admin', 5);
    assert.equal(denied.ok, false);
    assert.equal(denied.ok ? 0 : denied.retryAfterSeconds, 12, 'one call per 12 s at 5/min');
    assert.equal(l.take('a', 'model_inference', 60).ok, true, 'domains are separate buckets');
    await clock.advance(12000);
    assert.equal(l.take('a', 'model_admin', 5).ok, true);
  });
  it('keeps at most maxKeys buckets under a flood of distinct subjects', () => {
    const l = new RateLimiter(1000);
    for (let i = 0; i < 50000; i++) l.take(`subject-${i}`, 'model_inference', 60);
    assert.equal(l.size, 1000);
    assert.equal(l.evictions, 49000);
  });
  it('evicts the least recently used bucket (recency kept to the second)', async () => {
    const clock = new ManualClock();
    const l = new RateLimiter(3, clock);
    for (const s of ['a', 'b', 'c']) l.take(s, 'model_admin', 5);
    await clock.advance(1000);
    for (let i = 0; i < 3; i++) l.take('a', 'model_admin', 5); // a is now the most recent, 1 call left
    l.take('d', 'model_admin', 5); // evicts b, the oldest
    assert.equal(l.evictions, 1);
    assert.equal(l.take('a', 'model_admin', 5).ok, true, 'a kept its bucket: its last call');
    assert.equal(l.take('a', 'model_admin', 5).ok, false, 'and it is spent, not reset by an eviction');
    l.take('e', 'model_admin', 5); // evicts c: the order is now a, d, e
    l.take('b', 'model_admin', 5); // evicts a
    assert.equal(l.evictions, 3);
    assert.equal(l.size, 3);
    assert.equal(l.take('d', 'model_admin', 5).ok, true, 'd was kept');
    assert.equal(l.evictions, 3);
  });
});

describe('matrix, degradation tree, pod report', () => {
  it('buckets S, D, L as configured', () => {
    const edges = [128, 256, 512];
    assert.deepEqual([1, 127, 128, 255, 256, 511, 512, 9999].map((s) => seqLenBucket(s, edges)), [0, 0, 1, 1, 2, 2, 3, 3]);
    assert.deepEqual([0, 1, 2, 3].map((l) => seqLenBucketLabel(l, edges)), ['lt128', '128-256', '256-512', 'ge512']);
    const m = new ObservationMatrix({ gpuMemoryBucketMB: 1024, gpuMemoryBuckets: 4, latencyBucketMs: 5, latencyBuckets: 10, seqLenEdges: edges });
    m.add(0, 4.9, 100);
    m.add(0, 4.9, 100);
    m.add(1.5 * 1024 ** 3, 12, 300);
    m.add(99 * 1024 ** 3, 9999, 5000);
    const st = m.toStatus();
    assert.equal(st.total, 4);
    assert.deepEqual(st.cells, [
      { s: 0, d: 0, l: 0, count: 2 },
      { s: 1, d: 2, l: 2, count: 1 },
      { s: 3, d: 9, l: 3, count: 1 },
    ]);
  });
  it('degradation tree: shed > cpu-fallback > normal', () => {
    const d = defaultSidecarConfig('m').degradation;
    assert.equal(computeServingMode({ cpu: 0.96, gpu: 0.95 }, d), 'shed');
    assert.equal(computeServingMode({ cpu: 0.85, gpu: 0.95 }, d), 'cpu-fallback');
    assert.equal(computeServingMode({ cpu: 0.5, gpu: 0.91 }, d), 'cpu-fallback');
    assert.equal(computeServingMode({ cpu: 0.5, gpu: 0.5 }, d), 'normal');
    assert.equal(computeServingMode({ cpu: 0.5, gpu: undefined }, d), 'normal');
    assert.equal(parseCpuStatUsageUsec('usage_usec 123456\nuser_usec 1\n'), 123456);
    assert.equal(parseCpuMaxCores('max 100000'), undefined);
    assert.equal(parseCpuMaxCores('250000 100000'), 2.5);
    assert.deepEqual(gpuWatermark({ available: false, reason: 'no NVML' }), { gpu: undefined });
    const g = gpuWatermark({ available: true, driverVersion: '550', processMemoryBytes: 1, devices: [{ index: 0, name: 'H100', memoryUsedBytes: 70, memoryTotalBytes: 100, utilizationGpu: 93 }] });
    assert.equal(g.gpu, 0.93);
  });
  it('pod report: quantiles, op profile shares, merge-patch body for this pod only', () => {
    const rep = buildPodReport({
      now: new Date('2026-01-01T00:00:00Z'),
      ready: true,
      selfCheckPassed: true,
      info: { format: 'pdmodel', backend: 'builtin', backendVersion: '1', verified: true, digest: 'abc', parameterBytes: 1 },
      device: 'gpu',
      mode: 'normal',
      latenciesMs: Array.from({ length: 100 }, (_, i) => i + 1),
      baselineP95Ms: 90,
      requests: { total: 100, errors: 1 },
      matrix: { gpuMemoryBucketMB: 1024, latencyBucketMs: 5, seqLenEdges: [], total: 0, cells: [] },
      stats: { runs: 1, failures: 0, opTimesMs: { matmul: 30, relu: 10 }, memory: { arenaBytes: 0, parameterBytes: 0 } },
      breaker: { state: 'closed', trips: 0, treatmentState: 'closed' },
    });
    assert.deepEqual(rep.latency, { samples: 100, p50Ms: 50, p95Ms: 95, p99Ms: 99, baselineP95Ms: 90 });
    assert.deepEqual(computeOpProfile({ matmul: 30, relu: 10 }), [{ op: 'matmul', totalMs: 30, share: 0.75 }, { op: 'relu', totalMs: 10, share: 0.25 }]);
    assert.deepEqual(Object.keys(buildReportPatch('pod-a', rep).status.podReports), ['pod-a']);
  });
});

describe('log schema routing', function () {
  this.timeout(600_000); // property runs are CPU-bound and synchronous: a loaded machine takes longer, never forever
  it('valid records go out; a record failing the schema goes to the dead-letter sink with the reason', () => {
    const out: string[] = [];
    const dead: string[] = [];
    let counted = 0;
    const l = createLoggers({ service: 's', sinks: { out: { write: (x) => void out.push(x) }, deadLetter: { write: (x) => void dead.push(x) }, onDeadLetter: () => counted++ } });
    l.event.info({ a: 1 }, 'ok');
    l.event.warn({ '@error.cause': 'x' }, 'warned');
    l.forRequest('a'.repeat(32), 'b'.repeat(16)).info({ '@log.kind': 'access' }, 'req');
    l.forRequest('not-hex', 'b'.repeat(16)).info('bad trace');
    l.root.info('no trace id at all');
    l.event.info({ '@log.kind': 'gossip' }, 'bad kind');
    assert.equal(out.length, 3);
    assert.equal(dead.length, 3);
    assert.equal(counted, 3);
    assert.match(dead[0] ?? '', /trace_id/);
    const rec = JSON.parse(out[1] ?? '{}') as Record<string, unknown>;
    assert.equal(rec.level, 'WARN');
    assert.match(String(rec.timestamp), /^\d{4}-\d\d-\d\dT/);
  });
  it('the hot-path writer (loggers.info) gives the same record as pino, the same schema check and level gate', () => {
    const out: string[] = [];
    const dead: string[] = [];
    let counted = 0;
    const l = createLoggers({ service: 's', sinks: { out: { write: (x) => void out.push(x) }, deadLetter: { write: (x) => void dead.push(x) }, onDeadLetter: () => counted++ } });
    const fields = { trace_id: 'a'.repeat(32), '@span.id': 'b'.repeat(16), '@log.kind': 'access', status: 200 };
    l.root.info({ ...fields }, 'served');
    l.info({ ...fields }, 'served');
    assert.equal(out.length, 2);
    const [viaPino, direct] = out.map((x) => JSON.parse(x) as Record<string, unknown>);
    assert.ok(viaPino && direct && out.every((x) => x.endsWith('\n')));
    assert.deepEqual({ ...direct, timestamp: 'T' }, { ...viaPino, timestamp: 'T' });
    l.info({ trace_id: 'not-hex', '@log.kind': 'access' }, 'bad');
    l.info({ trace_id: 'a'.repeat(32), '@log.kind': 'gossip' }, 'bad kind');
    assert.equal(dead.length, 2);
    assert.equal(counted, 2);
    assert.match(dead[0] ?? '', /trace_id/);
    assert.equal((JSON.parse(dead[1] ?? '{}') as { record: string }).record.includes('gossip'), true);
    l.setLevel('warn');
    l.info({ ...fields }, 'below the level');
    assert.equal(out.length, 2);
  });
  it('the hot-path writer serialises exactly as JSON.stringify does the merged record, for any fields', () => {
    const out: string[] = [];
    const l = createLoggers({ service: 'svc "q"', sinks: { out: { write: (x) => void out.push(x) }, deadLetter: { write: () => undefined } } });
    const value = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme' }),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.constant(-0),
      // Durations rounded to microseconds (the access line's), which take the integer-built text.
      fc.integer({ min: 0, max: 1e12 - 1 }).map((k) => k / 1000),
      fc.integer({ min: -1e6, max: 1e6 }).map((k) => k / 1000),
      fc.array(fc.oneof(fc.string(), fc.integer())),
      fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.double(), fc.integer({ min: 0, max: 1e9 }).map((k) => k / 1000))),
      fc.dictionary(fc.string(), fc.dictionary(fc.string(), fc.oneof(fc.double(), fc.constant(undefined)))),
    );
    const ids = { trace_id: 'a'.repeat(32), '@span.id': 'b'.repeat(16) };
    const generated = new Set(['level', 'timestamp', 'service', 'message', 'trace_id', '@span.id', '@log.kind', '@error.cause']);
    fc.assert(
      // Integer-like keys excepted: JSON.stringify of the merged record would move them first.
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }).filter((k) => !generated.has(k) && !/^(0|[1-9]\d*)$/.test(k)), value), fc.string({ unit: 'binary' }), (extra, message) => {
        out.length = 0;
        l.info({ ...ids, ...extra }, message);
        assert.equal(out.length, 1);
        const line = out[0] ?? '';
        const timestamp = (JSON.parse(line) as { timestamp: string }).timestamp;
        assert.equal(line, `${JSON.stringify({ level: 'INFO', timestamp, service: 'svc "q"', ...ids, ...extra, message })}\n`);
      }),
      { numRuns: 2000 },
    );
  });
  it('a line with shared fields is the record, with the verdict, of the shared fields merged before its own', () => {
    const out: string[] = [];
    const dead: string[] = [];
    const l = createLoggers({ service: 's', sinks: { out: { write: (x) => void out.push(x) }, deadLetter: { write: (x) => void dead.push(x) } } });
    const shape = new SharedShape(['trace_id', '@span.id', 'env_id', 'test_group']);
    const hex = (n: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
    const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.oneof(a, fc.constant(undefined));
    const taken = new Set(['level', 'timestamp', 'service', 'message', 'trace_id', '@span.id', 'env_id', 'test_group', '@log.kind', '@error.cause']);
    const stamp = (line: string): string => line.replace(/"timestamp":"[^"]*"/, '"timestamp":"T"');
    fc.assert(
      fc.property(
        fc.record({ trace_id: maybe(fc.oneof(hex(32), fc.string())), '@span.id': maybe(fc.oneof(hex(16), fc.string())), env_id: maybe(fc.string({ unit: 'binary' })), test_group: maybe(fc.oneof(fc.constantFrom('control', 'treatment'), fc.integer())) }),
        fc.record({ '@log.kind': maybe(fc.oneof(fc.constantFrom('access', 'audit', 'event'), fc.string())), '@error.cause': maybe(fc.oneof(fc.string(), fc.integer())) }),
        fc.dictionary(fc.string({ unit: 'binary' }).filter((k) => !taken.has(k) && !/^(0|[1-9]\d*)$/.test(k)), fc.oneof(fc.string({ unit: 'binary' }), fc.double(), fc.boolean(), fc.constant(undefined))),
        fc.string(),
        (shared, kind, extra, message) => {
          out.length = 0;
          dead.length = 0;
          l.info({ ...kind, ...extra }, message, shape.share({ ...shared }));
          l.info({ ...shared, ...kind, ...extra }, message);
          assert.equal(out.length + dead.length, 2);
          assert.ok(out.length !== 1, 'both lines pass the schema or both fail it');
          if (out.length === 2) assert.equal(stamp(out[0] ?? ''), stamp(out[1] ?? ''));
          else assert.equal(stamp((JSON.parse(dead[0] ?? '{}') as { record: string }).record), stamp((JSON.parse(dead[1] ?? '{}') as { record: string }).record));
        },
      ),
      { numRuns: 3000 },
    );
    // A line may not repeat a shared key; a shape holds only its own keys.
    const ids = shape.share({ trace_id: 'a'.repeat(32), '@span.id': 'b'.repeat(16), env_id: 'e', test_group: 'control' });
    dead.length = 0;
    out.length = 0;
    l.info({ '@log.kind': 'access', env_id: 'again' }, 'repeated', ids);
    l.info({ '@log.kind': 'access' }, 'fine', ids);
    l.info({ '@log.kind': 'access' }, 'unknown shared key', new SharedShape(['trace_id']).share({ trace_id: 'a'.repeat(32), other: 1 }));
    assert.equal(out.length, 1);
    assert.equal(dead.length, 2);
    assert.match(dead[0] ?? '', /env_id/);
    assert.match(dead[1] ?? '', /additional properties/);
  });
  it('the hot-path writer refuses fields that would repeat a generated key, and unserialisable ones', () => {
    const out: string[] = [];
    const dead: string[] = [];
    const l = createLoggers({ service: 's', sinks: { out: { write: (x) => void out.push(x) }, deadLetter: { write: (x) => void dead.push(x) } } });
    const ids = { trace_id: 'a'.repeat(32) };
    l.info({ ...ids, level: 'ERROR' }, 'spoofed level');
    l.info({ ...ids, message: 'other' }, 'two messages');
    l.info({ ...ids, big: 1n }, 'a bigint');
    assert.equal(out.length, 0);
    assert.equal(dead.length, 3);
    assert.match(dead[0] ?? '', /\/level is written by the logger/);
    assert.match(dead[1] ?? '', /\/message is written by the logger/);
    assert.match(dead[2] ?? '', /not serialisable/);
    assert.throws(() => createLoggers({ service: '', sinks: { out: { write: () => undefined }, deadLetter: { write: () => undefined } } }), /service name must not be empty/);
  });
});

describe('stdout line batching', function () {
  this.timeout(300_000); // above the child process's 180 s bound (tsx on a loaded machine)
  it('hands one event-loop turn of lines over as one chunk, in order, and flushes early at the byte bound', async () => {
    const chunks: string[] = [];
    const sink = new BatchingLineSink((c) => void chunks.push(c), 20);
    sink.write('a\n');
    sink.write('b\n');
    assert.deepEqual(chunks, [], 'nothing is written before the turn ends');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(chunks, ['a\nb\n']);
    sink.write('0123456789\n');
    sink.write('0123456789\n'); // 22 characters pending >= 20: written now
    assert.deepEqual(chunks, ['a\nb\n', '0123456789\n0123456789\n']);
    sink.write('c\n');
    sink.flush();
    assert.deepEqual(chunks.at(-1), 'c\n');
    await new Promise((r) => setImmediate(r));
    assert.equal(chunks.length, 3, 'the scheduled flush finds nothing left and writes nothing');
    assert.equal(sink.chunks, 3);
  });
  for (const how of ['exit', 'throw', 'drain']) {
    it(`a process that logs and then leaves by ${how} loses no line`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', new URL('./helpers/log-exit-child.ts', import.meta.url).pathname, how, '500'], { encoding: 'utf8', timeout: 180_000 });
      const lines = r.stdout.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { n: number });
      assert.deepEqual(lines.map((l) => l.n), Array.from({ length: 500 }, (_, i) => i), r.stderr);
      if (how === 'throw') assert.match(r.stderr, /deliberate crash/);
    });
  }
});

describe('RFC 5424 audit formatting', () => {
  it('formats header, structured data with escapes, and octet-counted frames', () => {
    const msg = formatRfc5424({
      facility: 13,
      severity: 5,
      timestamp: new Date('2026-01-02T03:04:05.678Z'),
      hostname: 'pod-1',
      appName: 'paddle-sidecar',
      procId: '42',
      msgId: 'predict',
      structuredData: [{ id: 'audit@32473', params: { subject: 'a"b]c\\d' } }],
      message: 'hi',
    });
    assert.equal(msg, '<109>1 2026-01-02T03:04:05.678Z pod-1 paddle-sidecar 42 predict [audit@32473 subject="a\\"b\\]c\\\\d"] \uFEFFhi');
    assert.equal(escapeSdValue(']'), '\\]');
    const framed = frameOctetCounted('héllo');
    assert.equal(framed.toString('utf8'), '6 héllo');
    const audit = buildAuditMessage({ action: 'predict', outcome: 'success', decision: 'allow', subject: 'u', path: '/v1/predict', status: 200, modelDigest: 'd', group: 'treatment', envId: 'gray-v2', traceId: 't', requestId: 'r' }, 7, 'paddle-sidecar', new Date(0), 'h');
    assert.match(audit, /\[audit@32473 action="predict" outcome="success" decision="allow" subject="u" path="\/v1\/predict" status="200" modelDigest="d" group="treatment" envId="gray-v2" traceId="t" requestId="r"\]\[meta sequenceId="7"\]/);
  });
});

describe('more properties', function () {
  this.timeout(600_000); // property runs are CPU-bound and synchronous: a loaded machine takes longer, never forever
  it('any subject/path/reason text yields a well-formed RFC 5424 SD element', () => {
    const sdElement = /\[audit@32473(?: [^\s\]=" ]+="(?:[^"\\]|\\.)*")+\]\[meta sequenceId="\d+"\]/;
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (subject, path, reason) => {
        const m = buildAuditMessage({ action: 'predict', outcome: 'failure', decision: 'deny', subject, path, status: 403, modelDigest: 'd', group: 'control', envId: '', traceId: 't', requestId: 'r', reason }, 1, 'app', new Date(0), 'h');
        assert.match(m, /^<108>1 1970-01-01T00:00:00.000Z h app \d+ predict /);
        assert.match(m, sdElement);
      }),
      { numRuns: 1000 },
    );
  });
  it('the token verifier answers random Authorization headers with 401 only', async () => {
    const v = new TokenVerifier({ ...defaultSidecarConfig('m').auth, enabled: true });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.string().map((s) => `Bearer ${s}`), fc.base64String().map((s) => `Bearer ${s}.${s}.${s}`)), async (header) => {
        await assert.rejects(v.verify(header), (err: unknown) => err instanceof SidecarError && err.httpStatus === 401);
      }),
      { numRuns: 500 },
    );
  });
  it('the CPU sampler reports a utilization in [0, 1] from cgroup v2 or the process', async () => {
    const s = new CpuSampler();
    assert.ok(s.source === 'cgroup' || s.source === 'process');
    s.sample();
    const end = Date.now() + 50;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    const u = s.sample();
    assert.ok(u > 0 && u <= 1, `utilization ${u} (${x > 0 ? 'busy' : ''})`);
  });
});
