// Single-op programs with hand-computed expectations, for op behaviours the Paddle fixtures
// do not exercise (Paddle-documented semantics: exclusive pooling, 0-D slices, axis
// broadcasting, padding_idx, str_value, ...).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLimitError, Predictor, ShapeError, type Tensor } from '../lib/index.js';
import { writeFloatModel, type FloatParam as Param, type OpSpec, type VarSpec } from './program-builder.js';

async function runOne(
  vars: VarSpec[],
  ops: OpSpec[],
  feeds: string[],
  fetches: string[],
  inputs: Record<string, Tensor>,
  params: Param[] = [],
  maxMemoryMB?: number,
): Promise<Record<string, Tensor>> {
  const root = mkdtempSync(join(tmpdir(), 'paddle-native-op-'));
  try {
    writeFloatModel(root, vars, ops, feeds, fetches, params);
    const p = await Predictor.load({ modelDir: root, requireSignature: false, ...(maxMemoryMB ? { maxMemoryMB } : {}) });
    try {
      return await p.run(inputs);
    } finally {
      p.dispose();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const f32 = (shape: number[], values: number[]): Tensor => ({ dtype: 'float32', shape, data: Float32Array.from(values) });
const close = (got: Tensor | undefined, shape: number[], want: number[]) => {
  assert.ok(got);
  assert.deepEqual(got.shape, shape);
  assert.deepEqual(
    Array.from(got.data as Float32Array, (v) => Math.round(Number(v) * 1e5) / 1e5),
    want.map((v) => Math.round(v * 1e5) / 1e5),
  );
};
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('builtin ops (single-op programs)', function () {
  it('pool2d avg: exclusive divides by the valid count, non-exclusive by the window', async () => {
    for (const exclusive of [true, false]) {
      const out = await runOne(
        [{ name: 'x', dims: [-1, 1, 3, 3] }, { name: 'y', dims: [-1, 1, 4, 4] }],
        [{ type: 'pool2d', inputs: { X: ['x'] }, outputs: { Out: ['y'] }, attrs: { pooling_type: 'avg', ksize: [2, 2], strides: [1, 1], paddings: [1, 1], exclusive } }],
        ['x'],
        ['y'],
        { x: f32([1, 1, 3, 3], range(9)) },
      );
      const y = out.y!;
      assert.deepEqual(y.shape, [1, 1, 4, 4]);
      assert.equal(y.data[0], exclusive ? 1 : 0.25);
      assert.equal(y.data[5], (1 + 2 + 4 + 5) / 4);
    }
  });

  it('depthwise_conv2d with stride 2 + padding, and with dilation 2 (direct-loop path)', async () => {
    const x = f32([1, 2, 5, 5], range(50));
    const taps = (k: number[][]) => k.flat();
    const center = [[0, 0, 0], [0, 1, 0], [0, 0, 0]];
    const cases: { attrs: Record<string, number[]>; filter: number[]; shape: number[]; want: number[] }[] = [
      {
        attrs: { strides: [2, 2], paddings: [1, 1], dilations: [1, 1] },
        filter: [...taps([[1, 1, 1], [1, 1, 1], [1, 1, 1]]), ...taps(center)],
        shape: [1, 2, 3, 3],
        want: [16, 33, 28, 69, 117, 87, 76, 123, 88, 26, 28, 30, 36, 38, 40, 46, 48, 50],
      },
      {
        attrs: { strides: [1, 1], paddings: [2, 2], dilations: [2, 2] },
        filter: [...taps([[1, 0, 2], [0, 0, 0], [3, 0, 4]]), ...taps(center)],
        shape: [1, 2, 5, 5],
        want: [52, 56, 93, 36, 39, 72, 76, 128, 51, 54, 98, 104, 174, 68, 72, 16, 18, 26, 7, 8, 26, 28, 41, 12, 13, ...range(25).map((v) => v + 25)],
      },
    ];
    for (const c of cases) {
      const out = await runOne(
        [{ name: 'x', dims: [-1, 2, 5, 5] }, { name: 'y', dims: [-1, 2, -1, -1] }],
        [{ type: 'depthwise_conv2d', inputs: { Input: ['x'], Filter: ['k'] }, outputs: { Output: ['y'] }, attrs: { ...c.attrs, groups: 2 } }],
        ['x'],
        ['y'],
        { x },
        [{ name: 'k', dims: [2, 1, 3, 3], values: c.filter }],
      );
      close(out.y, c.shape, c.want);
    }
  });

  it('slice with decrease_axis on every axis gives a 0-D tensor', async () => {
    const out = await runOne(
      [{ name: 'x', dims: [-1, 3] }, { name: 'y', dims: [] }],
      [{ type: 'slice', inputs: { Input: ['x'] }, outputs: { Out: ['y'] }, attrs: { axes: [0, 1], starts: [0, -1], ends: [1, 10000], decrease_axis: [0, 1] } }],
      ['x'],
      ['y'],
      { x: f32([2, 3], range(6)) },
    );
    close(out.y, [], [3]);
  });

  it('elementwise_add aligns Y at `axis` (Paddle broadcasting)', async () => {
    const out = await runOne(
      [{ name: 'x', dims: [-1, 3, 2] }, { name: 'z', dims: [-1, 3, 2] }],
      [{ type: 'elementwise_add', inputs: { X: ['x'], Y: ['b'] }, outputs: { Out: ['z'] }, attrs: { axis: 1 } }],
      ['x'],
      ['z'],
      { x: f32([1, 3, 2], [0, 0, 0, 0, 0, 0]) },
      [{ name: 'b', dims: [3], values: [10, 20, 30] }],
    );
    close(out.z, [1, 3, 2], [10, 10, 20, 20, 30, 30]);
  });

  it('matmul (v1) honours transpose_X and alpha', async () => {
    const out = await runOne(
      [{ name: 'x', dims: [2, 2] }, { name: 'y', dims: [2, 2] }],
      [{ type: 'matmul', inputs: { X: ['x'], Y: ['w'] }, outputs: { Out: ['y'] }, attrs: { transpose_X: true, alpha: { float: 2 } } }],
      ['x'],
      ['y'],
      { x: f32([2, 2], [1, 2, 3, 4]) },
      [{ name: 'w', dims: [2, 2], values: [1, 0, 0, 1] }],
    );
    close(out.y, [2, 2], [2, 6, 4, 8]);
  });

  it('mul flattens at x_num_col_dims; fc adds the bias and applies relu', async () => {
    const out = await runOne(
      [{ name: 'x', dims: [-1, 2, 3] }, { name: 'm', dims: [-1, 2, 2] }, { name: 'f', dims: [-1, 2] }],
      [
        { type: 'mul', inputs: { X: ['x'], Y: ['w'] }, outputs: { Out: ['m'] }, attrs: { x_num_col_dims: 2, y_num_col_dims: 1 } },
        { type: 'fc', inputs: { Input: ['x'], W: ['w6'], Bias: ['b'] }, outputs: { Out: ['f'] }, attrs: { in_num_col_dims: 1, activation_type: 'relu' } },
      ],
      ['x'],
      ['m', 'f'],
      { x: f32([1, 2, 3], [1, 2, 3, 4, 5, 6]) },
      [
        { name: 'w', dims: [3, 2], values: [1, 0, 0, 1, 1, 1] },
        { name: 'w6', dims: [6, 2], values: [1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1] },
        { name: 'b', dims: [2], values: [0.5, 0.5] },
      ],
    );
    close(out.m, [1, 2, 2], [4, 5, 10, 11]);
    close(out.f, [1, 2], [21.5, 0]);
  });

  it('lookup_table_v2 zeroes padding_idx rows; fill_constant reads str_value', async () => {
    const out = await runOne(
      [{ name: 'ids', dtype: 'int64', dims: [-1] }, { name: 'e', dims: [-1, 2] }, { name: 'c', dims: [2, 2] }],
      [
        { type: 'lookup_table_v2', inputs: { Ids: ['ids'], W: ['table'] }, outputs: { Out: ['e'] }, attrs: { padding_idx: { long: 1 } } },
        { type: 'fill_constant', inputs: {}, outputs: { Out: ['c'] }, attrs: { shape: [2, 2], value: { float: 0 }, str_value: '1.5', dtype: 5 } },
      ],
      ['ids'],
      ['e', 'c'],
      { ids: { dtype: 'int64', shape: [3], data: BigInt64Array.from([2n, 1n, 0n]) } },
      [{ name: 'table', dims: [3, 2], values: [1, 2, 3, 4, 5, 6] }],
    );
    close(out.e, [3, 2], [5, 6, 0, 0, 1, 2]);
    close(out.c, [2, 2], [1.5, 1.5, 1.5, 1.5]);
  });

  it('split with a -1 section, reduce_mean, and less_than (bool -> int32)', async () => {
    const out = await runOne(
      [
        { name: 'x', dims: [-1, 4] },
        { name: 'a', dims: [-1, 3] },
        { name: 'b', dims: [-1, 1] },
        { name: 'm', dims: [-1] },
        { name: 'lt', dtype: 'bool', dims: [-1, 3] },
      ],
      [
        { type: 'split', inputs: { X: ['x'] }, outputs: { Out: ['a', 'b'] }, attrs: { axis: 1, sections: [-1, 1], num: 0 } },
        { type: 'reduce_mean', inputs: { X: ['a'] }, outputs: { Out: ['m'] }, attrs: { dim: [1], keep_dim: false, reduce_all: false } },
        { type: 'less_than', inputs: { X: ['a'], Y: ['b'] }, outputs: { Out: ['lt'] }, attrs: { axis: -1 } },
      ],
      ['x'],
      ['a', 'b', 'm', 'lt'],
      { x: f32([2, 4], [1, 5, 3, 4, 8, 6, 7, 2]) },
    );
    close(out.a, [2, 3], [1, 5, 3, 8, 6, 7]);
    close(out.b, [2, 1], [4, 2]);
    close(out.m, [2], [3, 7]);
    assert.equal(out.lt?.dtype, 'int32');
    assert.deepEqual(Array.from(out.lt!.data as Int32Array), [1, 0, 1, 0, 0, 0]);
  });

  it('a program whose working memory exceeds maxMemoryMB fails at load, before allocating', async () => {
    const fill = (shape: number[]) =>
      runOne(
        [{ name: 'x', dims: [-1, 1] }, { name: 'c', dims: shape }],
        [{ type: 'fill_constant', inputs: {}, outputs: { Out: ['c'] }, attrs: { shape, value: { float: 1 }, dtype: 5 } }],
        ['x'],
        ['c'],
        { x: f32([1, 1], [0]) },
        [],
        64,
      );
    await assert.rejects(fill([20000, 20000]), (e: unknown) => e instanceof MemoryLimitError && /above maxMemoryMB \(64 MiB\)/.test(e.message));
    await assert.rejects(fill([100000, 100000]), (e: unknown) => e instanceof ShapeError && /more than 2\^31 elements/.test(e.message));
  });

  it('a reshape that cannot apply is a ShapeError at load (static shape inference)', async () => {
    await assert.rejects(
      runOne(
        [{ name: 'x', dims: [-1, 3] }, { name: 'y', dims: [-1, 4] }],
        [{ type: 'reshape2', inputs: { X: ['x'] }, outputs: { Out: ['y'] }, attrs: { shape: [-1, 4] } }],
        ['x'],
        ['y'],
        { x: f32([1, 3], [1, 2, 3]) },
      ),
      (e: unknown) => e instanceof ShapeError && /op reshape2: cannot reshape \[1, 3\] to \[-1, 4\]/.test(e.message),
    );
  });
});

// Ops added for the model zoo: Paddle-documented semantics the zoo's random models may not
// pin down (negative strides, exclusive/reverse scans, ties), and bad programs refused with a
// ShapeError naming the op (the zoo test compares everything else with Paddle's outputs).
describe('model-zoo ops: semantics and refusals', function () {
  const one = (type: string, inputs: Record<string, string[]>, attrs: OpSpec['attrs'], x: Tensor, outDims: number[] = [-1]) =>
    runOne(
      [
        { name: 'x', dtype: x.dtype as 'float32', dims: x.shape.map(() => -1) },
        { name: 'y', dims: outDims },
      ],
      [{ type, inputs, outputs: { Out: ['y'] }, attrs }],
      ['x'],
      ['y'],
      { x },
    );

  it('strided_slice: a negative stride walks back from the end, Python-style clamping', async () => {
    const out = await one('strided_slice', { Input: ['x'] }, { axes: [0], starts: [-1], ends: [-1000], strides: [-2] }, f32([6], range(6)));
    close(out.y, [3], [6, 4, 2]);
  });

  it('cumsum: exclusive + reverse, and flatten', async () => {
    let out = await one('cumsum', { X: ['x'] }, { axis: 0, exclusive: true, reverse: true }, f32([4], [1, 2, 3, 4]));
    close(out.y, [4], [9, 7, 4, 0]);
    out = await one('cumsum', { X: ['x'] }, { axis: -1, flatten: true }, f32([2, 2], [1, 2, 3, 4]));
    close(out.y, [4], [1, 3, 6, 10]);
  });

  it('arg_max: the first index wins a tie; keepdims; int32 dtype', async () => {
    const out = await one('arg_max', { X: ['x'] }, { axis: 1, keepdims: true, dtype: 2 }, f32([2, 3], [1, 3, 3, 5, 5, 0]));
    assert.equal(out.y?.dtype, 'int32');
    assert.deepEqual(out.y?.shape, [2, 1]);
    assert.deepEqual(Array.from(out.y?.data as Int32Array), [1, 0]);
  });

  it('refusals name the op and the problem', async () => {
    await assert.rejects(one('expand_v2', { X: ['x'] }, { shape: [2, 3] }, f32([2, 2], range(4))), (e: Error) => e instanceof ShapeError && /op expand_v2: cannot expand \[2, 2\] to \[2, 3\]/.test(e.message));
    await assert.rejects(one('nearest_interp_v2', { X: ['x'] }, { out_h: 0, out_w: 2 }, f32([1, 1, 2, 2], range(4))), (e: Error) => e instanceof ShapeError && /output size out_h = 0 is not positive/.test(e.message));
    await assert.rejects(one('strided_slice', { Input: ['x'] }, { axes: [0], starts: [0], ends: [2], strides: [0] }, f32([4], range(4))), (e: Error) => e instanceof ShapeError && /stride 0/.test(e.message));
    await assert.rejects(
      runOne(
        [{ name: 'x', dims: [-1, -1, 3] }, { name: 'h', dims: [1, -1, 2] }, { name: 'y', dims: [-1] }],
        [{ type: 'rnn', inputs: { Input: ['x'], PreState: ['h'], WeightList: ['h'] }, outputs: { Out: ['y'] }, attrs: { mode: 'GRU', hidden_size: 2, num_layers: 1 } }],
        ['x', 'h'],
        ['y'],
        { x: f32([2, 1, 3], range(6)), h: f32([1, 1, 2], [0, 0]) },
      ),
      (e: Error) => e instanceof ShapeError && /op rnn: WeightList has 1 tensors, expected 4/.test(e.message),
    );
  });

  it('indexing and padding refusals name the op and the problem', async () => {
    const named = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
    await assert.rejects(one('top_k_v2', { X: ['x'] }, { k: 5, axis: -1 }, f32([2, 3], range(6))), named(/op top_k_v2: k 5 outside \[1, \d\]/));
    await assert.rejects(one('gather', { X: ['x'], Index: ['x'] }, { axis: 0 }, f32([3], [0, 1, 7])), named(/op gather: index 7 out of range for a dim of size 3/));
    await assert.rejects(
      one('pad3d', { X: ['x'] }, { paddings: [2, 0, 0, 0, 0, 0], mode: 'reflect' }, f32([1, 1, 1, 1, 2], [1, 2])),
      named(/op pad3d: reflect padding must be smaller than the dim it pads/),
    );
    await assert.rejects(one('one_hot_v2', { X: ['x'] }, { depth: 3 }, f32([2], [1, 3])), named(/op one_hot_v2: X value 3 outside \[0, depth 3\)/));
  });

  it('conv3d, masked_select and 3-D / channel-last interpolation refusals name the op and the problem', async () => {
    const named = (re: RegExp) => (e: Error) => e instanceof ShapeError && re.test(e.message);
    const two = (type: string, inputs: Record<string, string[]>, out: string, attrs: OpSpec['attrs'], x: Tensor, w: Tensor) =>
      runOne(
        [
          { name: 'x', dtype: x.dtype as 'float32', dims: x.shape.map(() => -1) },
          { name: 'w', dtype: w.dtype as 'float32', dims: w.shape.map(() => -1) },
          { name: 'y', dims: [-1] },
        ],
        [{ type, inputs, outputs: { [out]: ['y'] }, attrs }],
        ['x', 'w'],
        ['y'],
        { x, w },
      );
    const cube = f32([1, 2, 3, 3, 3], Array(54).fill(1));
    await assert.rejects(
      two('conv3d', { Input: ['x'], Filter: ['w'] }, 'Output', {}, cube, f32([4, 3, 1, 1, 1], range(12))),
      named(/op conv3d: Filter \[4, 3, 1, 1, 1\] with groups 1 does not fit Input \[1, 2, 3, 3, 3\]/),
    );
    await assert.rejects(
      two('conv3d', { Input: ['x'], Filter: ['w'] }, 'Output', { paddings: [1, 1] }, cube, f32([4, 2, 1, 1, 1], range(8))),
      named(/op conv3d: paddings must hold 3 or 6 values, got 2/),
    );
    await assert.rejects(
      two('masked_select', { X: ['x'], Mask: ['w'] }, 'Y', {}, f32([2], [1, 2]), f32([2], [1, 0])),
      named(/op masked_select: Mask must be bool, got float32/),
    );
    await assert.rejects(one('trilinear_interp_v2', { X: ['x'] }, { out_d: 2, out_h: 2, out_w: 2 }, f32([1, 1, 2, 2], range(4))), named(/op trilinear_interp_v2: input must be 5-D/));
    await assert.rejects(one('bilinear_interp_v2', { X: ['x'] }, { out_h: 2, out_w: 2, data_layout: 'HWNC' }, f32([1, 1, 2, 2], range(4))), named(/data layout HWNC is not supported/));
  });
});
