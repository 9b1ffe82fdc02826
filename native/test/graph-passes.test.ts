// Load-time graph passes seen from outside: constant folding (const_fold.cc) makes the run graph
// smaller without changing a bit of the output; the attention products, softmax and layer_norm
// run on oneDNN (dnnl_nlp.cc) with a preceding scale and the reshape/transpose around the
// attention products folded into them, and match hand-computed values, also on the shapes that
// take the builtin fallback.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Predictor, type Tensor } from '../lib/index.js';
import { writeFloatModel, type FloatParam, type OpSpec, type VarSpec } from './program-builder.js';

async function withModel<T>(
  vars: VarSpec[],
  ops: OpSpec[],
  feeds: string[],
  fetches: string[],
  params: FloatParam[],
  use: (p: Predictor) => Promise<T>,
): Promise<T> {
  const root = mkdtempSync(join(tmpdir(), 'paddle-native-pass-'));
  try {
    writeFloatModel(root, vars, ops, feeds, fetches, params);
    const p = await Predictor.load({ modelDir: root, requireSignature: false });
    try {
      return await use(p);
    } finally {
      p.dispose();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const f32 = (shape: number[], values: number[]): Tensor => ({ dtype: 'float32', shape, data: Float32Array.from(values) });
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const seq = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

describe('load-time graph passes', function () {
  // out = x * (0.5 * transpose(w) + 0.25) + (fill 2.0 + cast(fill int64 3)), x [-1, 4, 3], w [3, 4].
  const W = seq(12, (i) => (i - 5) / 7);
  const X = seq(2 * 12, (i) => Math.sin(i) * 3);
  const chain = (w: string, two: string, three: string): OpSpec[] => [
    { type: 'transpose2', inputs: { X: [w] }, outputs: { Out: ['wt'] }, attrs: { axis: [1, 0] } },
    { type: 'scale', inputs: { X: ['wt'] }, outputs: { Out: ['ws'] }, attrs: { scale: { float: 0.5 }, bias: { float: 0.25 }, bias_after_scale: true } },
    { type: 'cast', inputs: { X: [three] }, outputs: { Out: ['threef'] }, attrs: { in_dtype: 3, out_dtype: 5 } },
    { type: 'elementwise_add', inputs: { X: [two], Y: ['threef'] }, outputs: { Out: ['b'] }, attrs: { axis: -1 } },
    { type: 'elementwise_mul', inputs: { X: ['x'], Y: ['ws'] }, outputs: { Out: ['m'] }, attrs: { axis: -1 } },
    { type: 'elementwise_add', inputs: { X: ['m'], Y: ['b'] }, outputs: { Out: ['out'] }, attrs: { axis: -1 } },
  ];
  const common: VarSpec[] = [
    { name: 'x', dims: [-1, 4, 3] },
    { name: 'wt', dims: [4, 3] },
    { name: 'ws', dims: [4, 3] },
    { name: 'threef', dims: [1] },
    { name: 'b', dims: [3] },
    { name: 'm', dims: [-1, 4, 3] },
    { name: 'out', dims: [-1, 4, 3] },
  ];

  it('constant folding: the run graph loses every op on constants, the output keeps every bit', async () => {
    // Folded: w is a parameter, the two constants come from fill_constant.
    const folded = await withModel(
      [...common, { name: 'two', dims: [3] }, { name: 'three', dtype: 'int64', dims: [1] }],
      [
        { type: 'fill_constant', inputs: {}, outputs: { Out: ['two'] }, attrs: { shape: [3], value: { float: 2 }, dtype: 5 } },
        { type: 'fill_constant', inputs: {}, outputs: { Out: ['three'] }, attrs: { shape: [1], value: { float: 3 }, dtype: 3 } },
        ...chain('w', 'two', 'three'),
      ],
      ['x'],
      ['out'],
      [{ name: 'w', dims: [3, 4], values: W }],
      async (p) => ({ exported: total(p.opCounts()), run: p.runOpCounts(), out: (await p.run({ x: f32([2, 4, 3], X) })).out! }),
    );
    // The same ops on inputs: nothing to fold.
    const unfolded = await withModel(
      [...common, { name: 'w', dims: [3, 4] }, { name: 'two', dims: [3] }, { name: 'three', dtype: 'int64', dims: [1] }],
      chain('w', 'two', 'three'),
      ['x', 'w', 'two', 'three'],
      ['out'],
      [],
      async (p) => ({
        run: p.runOpCounts(),
        out: (await p.run({ x: f32([2, 4, 3], X), w: f32([3, 4], W), two: f32([3], [2, 2, 2]), three: { dtype: 'int64', shape: [1], data: BigInt64Array.from([3n]) } }))
          .out!,
      }),
    );
    assert.equal(folded.exported, 2 + 6 + 2, 'feed, 8 ops, fetch as exported');
    assert.deepEqual(folded.run, { elementwise_add: 1, elementwise_mul: 1 }, 'the run keeps only the two ops on x');
    assert.equal(total(unfolded.run), 6);
    assert.deepEqual(folded.out.shape, [2, 4, 3]);
    assert.deepEqual(Buffer.from((folded.out.data as Float32Array).buffer), Buffer.from((unfolded.out.data as Float32Array).buffer));
    const want = seq(24, (i) => Math.fround(X[i]!) * (0.5 * W[((i % 12) % 3) * 4 + Math.floor((i % 12) / 3)]! + 0.25) + 5);
    (folded.out.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-5, `out[${i}] = ${v}, want ${want[i]}`));
  });

  it('constant folding leaves fetched constants and ops whose results outgrow their inputs', async () => {
    const r = await withModel(
      [{ name: 'x', dims: [-1, 2] }, { name: 'c', dims: [2] }, { name: 'big', dims: [512, 1024] }, { name: 'y', dims: [-1, 2] }],
      [
        { type: 'fill_constant', inputs: {}, outputs: { Out: ['c'] }, attrs: { shape: [2], value: { float: 1.5 }, dtype: 5 } },
        { type: 'fill_constant', inputs: {}, outputs: { Out: ['big'] }, attrs: { shape: [512, 1024], value: { float: 1 }, dtype: 5 } },
        { type: 'elementwise_add', inputs: { X: ['x'], Y: ['c'] }, outputs: { Out: ['y'] }, attrs: { axis: -1 } },
      ],
      ['x'],
      ['y', 'c', 'big'],
      [],
      async (p) => ({ run: p.runOpCounts(), out: await p.run({ x: f32([1, 2], [1, 2]) }) }),
    );
    assert.deepEqual(r.run, { elementwise_add: 1, fill_constant: 2 });
    assert.deepEqual(Array.from(r.out.y!.data as Float32Array), [2.5, 3.5]);
    assert.deepEqual(Array.from(r.out.c!.data as Float32Array), [1.5, 1.5]);
    assert.equal((r.out.big!.data as Float32Array).length, 512 * 1024);
  });

  it('attention on oneDNN: scale folded into the product, transposes, broadcast batch dims, softmax, layer_norm', async () => {
    // q [B, 2, 3, 4] scaled by 0.5, times k [B, 2, 5, 4]^T -> [B, 2, 3, 5], softmax on the last axis,
    // times v [1, 2, 5, 4] (broadcast over B), layer_norm over the last two dims.
    const B = 2;
    const q = seq(B * 2 * 3 * 4, (i) => Math.cos(i * 0.7));
    const k = seq(B * 2 * 5 * 4, (i) => Math.sin(i * 0.3));
    const v = seq(2 * 5 * 4, (i) => (i % 7) / 3 - 1);
    const r = await withModel(
      [
        { name: 'q', dims: [-1, 2, 3, 4] },
        { name: 'k', dims: [-1, 2, 5, 4] },
        { name: 'v', dims: [1, 2, 5, 4] },
        { name: 'qs', dims: [-1, 2, 3, 4] },
        { name: 's', dims: [-1, 2, 3, 5] },
        { name: 'p', dims: [-1, 2, 3, 5] },
        { name: 'a', dims: [-1, 2, 3, 4] },
        { name: 'n', dims: [-1, 2, 3, 4] },
      ],
      [
        { type: 'scale', inputs: { X: ['q'] }, outputs: { Out: ['qs'] }, attrs: { scale: { float: 0.5 }, bias: { float: 0 } } },
        { type: 'matmul_v2', inputs: { X: ['qs'], Y: ['k'] }, outputs: { Out: ['s'] }, attrs: { trans_x: false, trans_y: true } },
        { type: 'softmax', inputs: { X: ['s'] }, outputs: { Out: ['p'] }, attrs: { axis: -1 } },
        { type: 'matmul_v2', inputs: { X: ['p'], Y: ['v'] }, outputs: { Out: ['a'] }, attrs: { trans_x: false, trans_y: false } },
        { type: 'layer_norm', inputs: { X: ['a'] }, outputs: { Y: ['n'] }, attrs: { begin_norm_axis: 2, epsilon: { float: 1e-5 } } },
      ],
      ['q', 'k', 'v'],
      ['n', 's'],
      [],
      async (pr) => ({ run: pr.runOpCounts(), out: await pr.run({ q: f32([B, 2, 3, 4], q), k: f32([B, 2, 5, 4], k), v: f32([1, 2, 5, 4], v) }) }),
    );
    assert.deepEqual(r.run, { batch_matmul: 2, layer_norm: 1, softmax: 1 });
    const S: number[] = [];
    const N: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < 2; h++) {
        const att: number[] = [];
        for (let i = 0; i < 3; i++) {
          const row = seq(5, (j) => seq(4, (d) => 0.5 * q[((b * 2 + h) * 3 + i) * 4 + d]! * k[((b * 2 + h) * 5 + j) * 4 + d]!).reduce((x, y) => x + y, 0));
          S.push(...row);
          const m = Math.max(...row);
          const e = row.map((x) => Math.exp(x - m));
          const sum = e.reduce((x, y) => x + y, 0);
          const pr = e.map((x) => x / sum);
          for (let d = 0; d < 4; d++) att.push(pr.reduce((acc, pj, j) => acc + pj * v[(h * 5 + j) * 4 + d]!, 0));
        }
        const mean = att.reduce((x, y) => x + y, 0) / att.length;
        const variance = att.reduce((x, y) => x + (y - mean) ** 2, 0) / att.length;
        N.push(...att.map((x) => (x - mean) / Math.sqrt(variance + 1e-5)));
      }
    }
    const near = (got: Tensor, want: number[], what: string) =>
      (got.data as Float32Array).forEach((x, i) => assert.ok(Math.abs(x - want[i]!) < 1e-4, `${what}[${i}] = ${x}, want ${want[i]}`));
    assert.deepEqual(r.out.s!.shape, [B, 2, 3, 5]);
    near(r.out.s!, S, 's');
    assert.deepEqual(r.out.n!.shape, [B, 2, 3, 4]);
    near(r.out.n!, N, 'n');
  });

  it('attention reads Q, K, V through their reshape2 + transpose2 and writes its output the same way', async () => {
    // x_q, x_k, x_v [B, S, H*D] -> [B, H, S, D]; softmax(0.125 * Q K^T) V -> [B, S, H*D]. Fetching the
    // intermediates keeps every reshape and transpose in the second program.
    const B = 2, S = 5, H = 2, D = 3;
    const mk = (k: number) => seq(B * S * H * D, (i) => Math.sin(i * 0.37 + k));
    const inputs = { xq: f32([B, S, H * D], mk(0)), xk: f32([B, S, H * D], mk(1)), xv: f32([B, S, H * D], mk(2)) };
    const vars: VarSpec[] = [
      ...['xq', 'xk', 'xv', 'out'].map((name) => ({ name, dims: [-1, -1, H * D] })),
      ...['rq', 'rk', 'rv', 'a2'].map((name) => ({ name, dims: [-1, -1, H, D] })),
      ...['tq', 'tk', 'tv', 'qs', 'a'].map((name) => ({ name, dims: [-1, H, -1, D] })),
      ...['s', 'p'].map((name) => ({ name, dims: [-1, H, -1, -1] })),
    ];
    const ops: OpSpec[] = [
      ...['q', 'k', 'v'].flatMap((n): OpSpec[] => [
        { type: 'reshape2', inputs: { X: [`x${n}`] }, outputs: { Out: [`r${n}`] }, attrs: { shape: [0, 0, H, D] } },
        { type: 'transpose2', inputs: { X: [`r${n}`] }, outputs: { Out: [`t${n}`] }, attrs: { axis: [0, 2, 1, 3] } },
      ]),
      { type: 'scale', inputs: { X: ['tq'] }, outputs: { Out: ['qs'] }, attrs: { scale: { float: 0.125 }, bias: { float: 0 } } },
      { type: 'matmul_v2', inputs: { X: ['qs'], Y: ['tk'] }, outputs: { Out: ['s'] }, attrs: { trans_x: false, trans_y: true } },
      { type: 'softmax', inputs: { X: ['s'] }, outputs: { Out: ['p'] }, attrs: { axis: -1 } },
      { type: 'matmul_v2', inputs: { X: ['p'], Y: ['tv'] }, outputs: { Out: ['a'] }, attrs: { trans_x: false, trans_y: false } },
      { type: 'transpose2', inputs: { X: ['a'] }, outputs: { Out: ['a2'] }, attrs: { axis: [0, 2, 1, 3] } },
      { type: 'reshape2', inputs: { X: ['a2'] }, outputs: { Out: ['out'] }, attrs: { shape: [0, 0, H * D] } },
    ];
    const run = (fetches: string[]) =>
      withModel(vars, ops, ['xq', 'xk', 'xv'], fetches, [], async (p) => ({ run: p.runOpCounts(), out: (await p.run(inputs)).out! }));
    const fused = await run(['out']);
    const plain = await run(['out', 'rq', 'tq', 'rk', 'tk', 'rv', 'tv', 'a', 'a2']);
    assert.deepEqual(fused.run, { batch_matmul: 2, softmax: 1 });
    assert.deepEqual(plain.run, { batch_matmul: 2, reshape2: 4, softmax: 1, transpose2: 4 });
    assert.deepEqual(fused.out.shape, [B, S, H * D]);
    const want = plain.out.data as Float32Array;
    (fused.out.data as Float32Array).forEach((x, i) => assert.ok(Math.abs(x - want[i]!) < 1e-6, `out[${i}] = ${x}, want ${want[i]}`));
    // And both against the definition.
    const at = (t: Tensor, b: number, s: number, h: number, d: number) => (t.data as Float32Array)[((b * S + s) * H + h) * D + d]!;
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < S; i++) {
          const sc = seq(S, (j) => 0.125 * seq(D, (d) => at(inputs.xq, b, i, h, d) * at(inputs.xk, b, j, h, d)).reduce((u, w) => u + w, 0));
          const m = Math.max(...sc);
          const e = sc.map((u) => Math.exp(u - m));
          const z = e.reduce((u, w) => u + w, 0);
          for (let d = 0; d < D; d++) {
            const w = e.reduce((acc, ej, j) => acc + (ej / z) * at(inputs.xv, b, j, h, d), 0);
            assert.ok(Math.abs(at(fused.out, b, i, h, d) - w) < 1e-5, `out[${b},${i},${h},${d}]`);
          }
        }
  });

  it('a fused (oneDNN) conv with SAME padding and stride 0 is a ShapeError at load, not a division by zero (fuzz regression)', async () => {
    await assert.rejects(
      withModel(
        [{ name: 'x', dims: [-1, 1, 4, 4] }, { name: 'y', dims: [-1, 1, 4, 4] }],
        [{ type: 'conv2d', inputs: { Input: ['x'], Filter: ['f'] }, outputs: { Output: ['y'] }, attrs: { strides: [0, 0], paddings: [0, 0], dilations: [1, 1], groups: 1, padding_algorithm: 'SAME', data_format: 'NCHW' } }],
        ['x'],
        ['y'],
        [{ name: 'f', dims: [1, 1, 3, 3], values: seq(9, () => 1) }],
        async () => undefined,
      ),
      (err: Error) => err.name === 'ShapeError' && /stride\/dilation\/kernel size 0 out of range/.test(err.message),
    );
  });

  it('an average pool after a 1x1 conv + batch_norm runs first (they commute); not past a relu or in ceil mode', async () => {
    // x [N, 16, 8, 8] -> conv 1x1 (16 -> 32) -> batch_norm [-> relu] -> avg pool 2x2 / 2.
    const C = 16, O = 32, H = 8;
    const F = seq(O * C, (i) => Math.sin(i * 0.7) / 4);
    const bn = { scale: seq(O, (i) => 1 + i / 40), bias: seq(O, (i) => (i % 5) - 2), mean: seq(O, (i) => Math.cos(i) / 3), variance: seq(O, (i) => 0.5 + i / 20) };
    const X = seq(2 * C * H * H, (i) => Math.sin(i * 0.37) * 2);
    const ref = (relu: boolean) => {
      const out: number[] = [];
      for (let n = 0; n < 2; n++)
        for (let o = 0; o < O; o++)
          for (let y = 0; y < H / 2; y++)
            for (let x = 0; x < H / 2; x++) {
              let acc = 0;
              for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
                let v = 0;
                for (let c = 0; c < C; c++) v += F[o * C + c]! * X[((n * C + c) * H + 2 * y + dy) * H + 2 * x + dx]!;
                v = ((v - bn.mean[o]!) / Math.sqrt(bn.variance[o]! + 1e-5)) * bn.scale[o]! + bn.bias[o]!;
                acc += relu ? Math.max(v, 0) : v;
              }
              out.push(acc / 4);
            }
      return out;
    };
    const run = (relu: boolean, ceil: boolean) =>
      withModel(
        ['x', 'y', 'z', 'r', 'out'].map((name) => ({ name, dims: [-1, name === 'x' ? C : O, name === 'out' ? H / 2 : H, name === 'out' ? H / 2 : H] })),
        [
          { type: 'conv2d', inputs: { Input: ['x'], Filter: ['f'] }, outputs: { Output: ['y'] }, attrs: { strides: [1, 1], paddings: [0, 0], dilations: [1, 1], groups: 1, data_format: 'NCHW' } },
          { type: 'batch_norm', inputs: { X: ['y'], Scale: ['s'], Bias: ['b'], Mean: ['m'], Variance: ['v'] }, outputs: { Y: ['z'] }, attrs: { epsilon: { float: 1e-5 }, is_test: true, data_layout: 'NCHW' } },
          ...(relu ? [{ type: 'relu', inputs: { X: ['z'] }, outputs: { Out: ['r'] } }] : []),
          { type: 'pool2d', inputs: { X: [relu ? 'r' : 'z'] }, outputs: { Out: ['out'] }, attrs: { pooling_type: 'avg', ksize: [2, 2], strides: [2, 2], paddings: [0, 0], exclusive: true, ceil_mode: ceil, data_format: 'NCHW' } },
        ],
        ['x'],
        ['out'],
        [
          { name: 'f', dims: [O, C, 1, 1], values: F },
          { name: 's', dims: [O], values: bn.scale },
          { name: 'b', dims: [O], values: bn.bias },
          { name: 'm', dims: [O], values: bn.mean },
          { name: 'v', dims: [O], values: bn.variance },
        ],
        async (p) => ({ bytes: p.estimateRunBytes({ x: [2, C, H, H] }), out: Array.from((await p.run({ x: f32([2, C, H, H], X) })).out!.data as Float32Array) }),
      );
    const swapped = await run(false, false);
    const kept = await run(false, true);  // ceil mode (no partial window at 8x8, so the same values): not reordered
    const relu = await run(true, false);
    for (const [name, r, want] of [['swapped', swapped, ref(false)], ['ceil mode', kept, ref(false)], ['relu', relu, ref(true)]] as const) {
      assert.equal(r.out.length, want.length);
      want.forEach((w, i) => assert.ok(Math.abs(r.out[i]! - w) <= 1e-5 * Math.max(1, Math.abs(w)), `${name}: out[${i}] = ${r.out[i]}, want ${w}`));
    }
    // Pooled first, the run holds the pooled input (2 x 16 x 4 x 4) instead of the conv's output (2 x 32 x 8 x 8).
    assert.ok(swapped.bytes + 12 * 1024 <= kept.bytes, `estimate ${swapped.bytes} (pool first) vs ${kept.bytes} (conv first)`);
    assert.ok(relu.bytes >= kept.bytes, `a relu between them keeps the exported order: ${relu.bytes} vs ${kept.bytes}`);
  });

  it('a channel concat appends in place to its first input when it is that input\'s last reader', async () => {
    // c = concat(conv_a(x), conv_b(x)) on 16-channel blocks; x is fetched, so no free slab can take c.
    // Fetching ya too keeps it alive past the concat, so c needs a slab of its own.
    const C = 16, H = 4;
    const Fa = seq(C * C, (i) => Math.sin(i) / 3), Fb = seq(C * C, (i) => Math.cos(i * 1.3) / 3);
    const conv = (F: number[], X: number[], n: number, o: number, p: number) => {
      let v = 0;
      for (let c = 0; c < C; c++) v += F[o * C + c]! * X[(n * C + c) * H * H + p]!;
      return v;
    };
    const run = (fetchYa: boolean) =>
      withModel(
        [{ name: 'x', dims: [-1, C, H, H] }, { name: 'ya', dims: [-1, C, H, H] }, { name: 'yb', dims: [-1, C, H, H] }, { name: 'c', dims: [-1, 2 * C, H, H] }],
        [
          { type: 'conv2d', inputs: { Input: ['x'], Filter: ['fa'] }, outputs: { Output: ['ya'] }, attrs: { strides: [1, 1], paddings: [0, 0], dilations: [1, 1], groups: 1 } },
          { type: 'conv2d', inputs: { Input: ['x'], Filter: ['fb'] }, outputs: { Output: ['yb'] }, attrs: { strides: [1, 1], paddings: [0, 0], dilations: [1, 1], groups: 1 } },
          { type: 'concat', inputs: { X: ['ya', 'yb'] }, outputs: { Out: ['c'] }, attrs: { axis: 1 } },
        ],
        ['x'],
        fetchYa ? ['c', 'x', 'ya'] : ['c', 'x'],
        [{ name: 'fa', dims: [C, C, 1, 1], values: Fa }, { name: 'fb', dims: [C, C, 1, 1], values: Fb }],
        async (p) => {
          const bytes = p.estimateRunBytes({ x: [3, C, H, H] });
          for (const n of [1, 3, 3, 1]) {  // the first run of a shape grows the slab, the next ones reuse it
            const X = seq(n * C * H * H, (i) => Math.sin(i * 0.61 + n));
            const got = Array.from((await p.run({ x: f32([n, C, H, H], X) })).c!.data as Float32Array);
            assert.equal(got.length, n * 2 * C * H * H);
            for (let b = 0; b < n; b++)
              for (let o = 0; o < 2 * C; o++)
                for (let q = 0; q < H * H; q++) {
                  const want = conv(o < C ? Fa : Fb, X, b, o % C, q);
                  const v = got[(b * 2 * C + o) * H * H + q]!;
                  assert.ok(Math.abs(v - want) <= 1e-5 * Math.max(1, Math.abs(want)), `batch ${n}: c[${b},${o},${q}] = ${v}, want ${want}`);
                }
          }
          return bytes;
        },
      );
    const inPlace = await run(false);
    const copied = await run(true);
    // At batch 3 one 16-channel map is `map` bytes. Fetching ya adds its plain copy and the reorder
    // slab (2 maps) either way; only without the append does c also need a slab of its own (+1 map).
    const map = 3 * C * H * H * 4;
    assert.ok(copied - inPlace >= 3 * map, `estimate ${inPlace} (appended in place) vs ${copied} (ya kept alive)`);
  });

  it('the oneDNN matmul falls back to the builtin kernel for 1-D operands, softmax on a middle axis', async () => {
    const r = await withModel(
      [{ name: 'x', dims: [-1, 3] }, { name: 'y', dims: [3] }, { name: 'o', dims: [-1] }, { name: 'z', dims: [-1, 3] }, { name: 'sm', dims: [-1, 3] }],
      [
        { type: 'matmul_v2', inputs: { X: ['x'], Y: ['y'] }, outputs: { Out: ['o'] }, attrs: { trans_x: false, trans_y: false } },
        { type: 'softmax', inputs: { X: ['z'] }, outputs: { Out: ['sm'] }, attrs: { axis: 0 } },
      ],
      ['x', 'y', 'z'],
      ['o', 'sm'],
      [],
      async (p) => p.run({ x: f32([2, 3], [1, 2, 3, 4, 5, 6]), y: f32([3], [1, 0, -1]), z: f32([2, 3], [0, 0, 1, Math.log(3), 0, 1]) }),
    );
    assert.deepEqual(r.o!.shape, [2]);
    assert.deepEqual(Array.from(r.o!.data as Float32Array), [-2, -2]);
    const sm = Array.from(r.sm!.data as Float32Array);
    [0.25, 0.5, 0.5, 0.75, 0.5, 0.5].forEach((w, i) => assert.ok(Math.abs(sm[i]! - w) < 1e-6, `sm[${i}] = ${sm[i]}`));
  });
});
