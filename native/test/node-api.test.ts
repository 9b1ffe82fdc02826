// The Node-API surface: argument checking, lifecycle guards, concurrency, stats, loader.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  PaddleError,
  Predictor,
  ShapeError,
  addonCandidates,
  gpuTelemetry,
  loadBinding,
  supportedOps,
  type Tensor,
  unsentBytes,
} from '../lib/index.js';
import { key, loadCases, maxAbsDiff, modelDir } from './fixtures.js';

const RSA_PUB = key('rsa2048', 'pub');

describe('Node API', function () {
  let p: Predictor;
  const { cases } = loadCases('mlp');
  const b1 = cases.find((c) => c.id === 'b1')!;
  const b4 = cases.find((c) => c.id === 'b4')!;
  beforeEach(async () => {
    p = await Predictor.load({ modelDir: modelDir('mlp', 'legacy'), publicKeyPem: RSA_PUB });
  });
  afterEach(() => {
    try {
      p.dispose();
    } catch {
      // already disposed or busy in a failed test
    }
  });

  it('describes inputs and outputs with -1 for dynamic dims', () => {
    assert.deepEqual(p.inputs(), [{ name: 'x', dtype: 'float32', shape: [-1, 64] }]);
    assert.deepEqual(p.outputs(), [{ name: 'softmax_0.tmp_0', dtype: 'float32', shape: [-1, 10] }]);
    assert.equal(p.info().format, 'pdmodel');
    assert.equal(p.info().backend, 'builtin');
    assert.equal(p.info().parameterBytes, (256 + 64 * 256 + 256 + 256 * 256 + 10 + 256 * 10) * 4);
  });

  it('rejects bad load options with TypeError / RangeError', async () => {
    await assert.rejects(Predictor.load(undefined as never), TypeError);
    await assert.rejects(Predictor.load({} as never), /modelDir must be a non-empty string/);
    await assert.rejects(Predictor.load({ modelDir: 'x', format: 'onnx' as never }), TypeError);
    await assert.rejects(Predictor.load({ modelDir: 'x', requireSignature: 'no' as never }), TypeError);
    await assert.rejects(Predictor.load({ modelDir: 'x', cpuThreads: 0 }), RangeError);
    await assert.rejects(Predictor.load({ modelDir: 'x', maxMemoryMB: 1.5 }), RangeError);
    await assert.rejects(Predictor.load({ modelDir: 'x', device: 'gpu' }), /needs backend "paddle"/);
  });

  it('rejects bad run arguments with TypeError, bad shapes with RangeError / ShapeError', async () => {
    const x = b1.inputs.x as Tensor;
    await assert.rejects(p.run(undefined as never), TypeError);
    await assert.rejects(p.run({ x: 5 } as never), TypeError);
    await assert.rejects(p.run({ x: { ...x, dtype: 'float16' } } as never), /dtype must be float32, int64 or int32/);
    await assert.rejects(p.run({ x: { ...x, data: [1, 2] } } as never), /data must be a typed array/);
    await assert.rejects(p.run({ x: { ...x, data: new Int32Array(64) } }), /needs a Float32Array/);
    await assert.rejects(p.run({ x: { ...x, dtype: 'int32', data: new Int32Array(64) } }), (e: unknown) => e instanceof TypeError && /must be float32, got int32/.test((e as Error).message));
    await assert.rejects(p.run({ x: { ...x, shape: [2, 64] } }), (e: unknown) => e instanceof RangeError && /needs 128 elements, data has 64/.test(e.message));
    await assert.rejects(p.run({ x: { ...x, shape: [1, -64] } }), RangeError);
    await assert.rejects(p.run({ x: { dtype: 'float32', shape: [1, 63], data: new Float32Array(63) } }), ShapeError);
    await assert.rejects(p.run({}), /missing input "x"/);
    await assert.rejects(p.run({ x, y: x }), /unknown input "y"/);
    assert.equal(p.stats().failures, 4); // the ones that reached the executor
  });

  it('reads typed-array views at their byte offset', async () => {
    const x = b1.inputs.x as Tensor;
    const backing = new Float32Array(64 * 3);
    backing.set(x.data as Float32Array, 64);
    const out = await p.run({ x: { dtype: 'float32', shape: [1, 64], data: backing.subarray(64, 128) } });
    assert.ok(maxAbsDiff(out['softmax_0.tmp_0']!.data, (b1.outputs.legacy[0] as Tensor).data) <= 1e-4);
  });

  it('throws on use after dispose', async () => {
    p.dispose();
    const disposed = (e: unknown) => e instanceof PaddleError && e.code === 'ERR_DISPOSED';
    await assert.rejects(p.run(b1.inputs), disposed);
    assert.throws(() => p.inputs(), disposed);
    assert.throws(() => p.info(), disposed);
    assert.throws(() => p.stats(), disposed);
    p.dispose(); // idempotent
  });

  it('refuses dispose while a run is in flight; the run still completes', async () => {
    const running = p.run(b4.inputs);
    assert.throws(() => p.dispose(), (e: unknown) => e instanceof PaddleError && e.code === 'ERR_BUSY');
    const out = await running;
    const got = out['softmax_0.tmp_0'];
    assert.ok(got);
    assert.ok(maxAbsDiff(got.data, (b4.outputs.legacy[0] as Tensor).data) <= 1e-4);
    p.dispose();
    assert.throws(() => p.outputs(), /disposed/);
  });

  it('runSync computes on the calling thread: the outputs real Paddle gave, the same errors as run() thrown, stats counted, refused after dispose', async () => {
    for (const c of [b1, b4]) {
      const got = p.runSync(c.inputs)['softmax_0.tmp_0'];
      assert.ok(got);
      assert.deepEqual(got.shape, (c.outputs.legacy[0] as Tensor).shape);
      assert.ok(maxAbsDiff(got.data, (c.outputs.legacy[0] as Tensor).data) <= 1e-4);
      // Bit-for-bit what run() gives (one engine, one kernel path).
      assert.deepEqual(got.data, (await p.run(c.inputs))['softmax_0.tmp_0']?.data);
    }
    const x = b1.inputs.x as Tensor;
    assert.throws(() => p.runSync(undefined as never), TypeError);
    assert.throws(() => p.runSync({ x: { ...x, data: new Int32Array(64) } }), /needs a Float32Array/);
    assert.throws(() => p.runSync({ x: { ...x, shape: [2, 64] } }), (e: unknown) => e instanceof RangeError && /needs 128 elements, data has 64/.test(e.message));
    assert.throws(() => p.runSync({ x: { dtype: 'float32', shape: [1, 63], data: new Float32Array(63) } }), (e: unknown) => e instanceof ShapeError && (e as PaddleError).code !== undefined);
    assert.throws(() => p.runSync({}), /missing input "x"/);
    const s = p.stats();
    assert.equal(s.runs, 6, 'four runs and the two errors that reached the executor (shape, missing input)');
    assert.equal(s.failures, 2);
    // A run on the pool may be in flight while another computes inline.
    const pooled = p.run(b4.inputs);
    const inline = p.runSync(b1.inputs);
    assert.ok(maxAbsDiff(inline['softmax_0.tmp_0']!.data, (b1.outputs.legacy[0] as Tensor).data) <= 1e-4);
    assert.ok(maxAbsDiff((await pooled)['softmax_0.tmp_0']!.data, (b4.outputs.legacy[0] as Tensor).data) <= 1e-4);
    p.dispose();
    assert.throws(() => p.runSync(b1.inputs), (e: unknown) => e instanceof PaddleError && e.code === 'ERR_DISPOSED');
  });

  it('gives correct results for 100 concurrent runs of mixed batch sizes', async () => {
    const runs = Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? b4 : b1));
    const results = await Promise.all(runs.map((c) => p.run(c.inputs)));
    results.forEach((out, i) => {
      const ref = (runs[i] as typeof b1).outputs.legacy[0] as Tensor;
      const got = out['softmax_0.tmp_0'];
      assert.ok(got);
      assert.deepEqual(got.shape, ref.shape);
      assert.ok(maxAbsDiff(got.data, ref.data) <= 1e-4, `run ${i}`);
    });
    const stats = p.stats();
    assert.equal(stats.runs, 100);
    assert.equal(stats.failures, 0);
    assert.ok(stats.lastRun && stats.lastRun.latencyMs > 0);
    assert.ok((stats.opTimesMs.fused_matmul ?? 0) > 0, "the mlp's matmul + bias + activation run as one fused op");
    assert.ok(stats.memory.arenaBytes > 0);
    assert.equal(stats.memory.parameterBytes, p.info().parameterBytes);
  });

  it('returns int64 inputs/outputs as BigInt64Array and handles dynamic sequence length', async () => {
    const t = await Predictor.load({ modelDir: modelDir('transformer', 'pir'), publicKeyPem: RSA_PUB });
    try {
      assert.deepEqual(t.inputs(), [{ name: 'tokens', dtype: 'int64', shape: [-1, -1] }]);
      assert.deepEqual(
        t.outputs().map((o) => o.shape),
        [
          [-1, -1, 128],
          [-1, 128],
        ],
      );
      const out = await t.run({ tokens: { dtype: 'int64', shape: [2, 5], data: new BigInt64Array(10).fill(3n) } });
      assert.deepEqual(out.fetch_name_0?.shape, [2, 5, 128]);
      assert.ok(out.fetch_name_0?.data instanceof Float32Array);
      await assert.rejects(
        t.run({ tokens: { dtype: 'int64', shape: [1, 2], data: new BigInt64Array([1n, 1n << 40n]) } }),
        (e: unknown) => e instanceof ShapeError && /outside the table/.test(e.message),
      );
    } finally {
      t.dispose();
    }
  });

  it('reports GPU telemetry or a clean reason', () => {
    const t = gpuTelemetry();
    if (t.available) {
      assert.ok(t.devices.length > 0);
      for (const d of t.devices) assert.ok(d.memoryTotalBytes > 0 && d.memoryUsedBytes <= d.memoryTotalBytes);
    } else {
      assert.match(t.reason, /NVML|GPU/);
    }
  });

  it('reports the bytes the kernel still holds to send on a TCP socket, and -1 for a descriptor that is not one', async () => {
    assert.equal(unsentBytes(-1), -1);
    assert.equal(unsentBytes(0), -1, 'stdin is not a TCP socket');
    assert.throws(() => (unsentBytes as (fd: unknown) => number)('3'), /file descriptor/);
    const { createServer, connect } = await import('node:net');
    const server = createServer((s) => {
      s.pause(); // the peer never reads: what the client writes stays queued
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    try {
      await new Promise<void>((r) => client.once('connect', () => r()));
      const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
      assert.equal(unsentBytes(fd), 0, 'nothing written yet');
      client.write(Buffer.alloc(16 * 1024 * 1024));
      const deadline = Date.now() + 10_000;
      let queued = 0;
      while (queued === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        queued = unsentBytes(fd);
      }
      assert.ok(queued > 0, 'the kernel holds part of what the paused peer did not take');
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('loading the addon starts no math threads beyond the default of 1 (CHECKLIST 1.4)', () => {
    const script = `
      import { readdirSync } from 'node:fs';
      const { loadBinding } = await import(${JSON.stringify(new URL('../lib/binding.ts', import.meta.url).href)});
      const before = readdirSync('/proc/self/task').length;
      loadBinding();
      console.log(JSON.stringify({ before, after: readdirSync('/proc/self/task').length }));`;
    const env = { ...process.env };
    delete env.OPENBLAS_NUM_THREADS;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    const { before, after } = JSON.parse(r.stdout.trim()) as { before: number; after: number };
    assert.equal(after, before);
  });

  it('marshals NVML telemetry (through the NVML test double) and reports init failures cleanly', () => {
    const lib = new URL('../../build/Release/libnvml_double.so', import.meta.url).pathname;
    process.env.PADDLE_NVML_LIBRARY = lib;
    try {
      const t = gpuTelemetry();
      assert.ok(t.available);
      assert.equal(t.driverVersion, '999.99-test-double');
      assert.deepEqual(t.devices, [
        { index: 0, name: 'Test Double GPU 0', memoryUsedBytes: 3 * 2 ** 30, memoryTotalBytes: 80 * 2 ** 30, utilizationGpu: 42 },
        { index: 1, name: 'Test Double GPU 1', memoryUsedBytes: 0, memoryTotalBytes: 80 * 2 ** 30, utilizationGpu: 0 },
      ]);
      assert.equal(t.processMemoryBytes, 512 * 2 ** 20); // only this pid's entry
      process.env.NVML_DOUBLE_FAIL_INIT = '1';
      const down = gpuTelemetry();
      assert.equal(down.available, false);
      assert.match(down.available ? '' : down.reason, /nvmlInit_v2 failed: Driver Not Loaded \(code 9\)/);
      process.env.PADDLE_NVML_LIBRARY = '/nonexistent/libnvidia-ml.so.1';
      const missing = gpuTelemetry();
      assert.equal(missing.available, false);
      assert.match(missing.available ? '' : missing.reason, /NVML not loadable \(\/nonexistent\/libnvidia-ml\.so\.1\)/);
    } finally {
      delete process.env.PADDLE_NVML_LIBRARY;
      delete process.env.NVML_DOUBLE_FAIL_INIT;
    }
  });

  it('lists supported ops', () => {
    const ops = supportedOps();
    for (const op of ['matmul_v2', 'conv2d', 'layer_norm', 'lookup_table_v2', 'pool2d', 'slice']) assert.ok(ops.includes(op), op);
  });

  it('the loader names every place it looked in one message', () => {
    assert.throws(
      () => loadBinding(['/nonexistent/a/paddle_native.node', '/nonexistent/b/paddle_native.node']),
      (e: unknown) => e instanceof Error && /a\/paddle_native\.node: not found\n\s+\/nonexistent\/b\/paddle_native\.node: not found/.test(e.message),
    );
    const list = addonCandidates({ PADDLE_NATIVE_ADDON: '/opt/x.node' });
    assert.equal(list[0], '/opt/x.node');
    assert.ok(list.some((c) => c.endsWith('build/Release/paddle_native.node')));
    assert.ok(list.some((c) => c.endsWith('build/Debug/paddle_native.node')));
  });
});
