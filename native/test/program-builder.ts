// Writes small legacy Paddle programs (ProgramDesc protobuf, framework.proto field numbers)
// and combined pdiparams files, for single-op unit tests and benchmarks.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DTYPES = { bool: 0, int32: 2, int64: 3, float32: 5, float64: 6 } as const;
export type BuilderDType = keyof typeof DTYPES;

function varint(v: number | bigint): Buffer {
  const out: number[] = [];
  let x = BigInt.asUintN(64, BigInt(v));
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return Buffer.from(out);
}
const tag = (field: number, wire: number) => varint((field << 3) | wire);
const vfield = (field: number, v: number | bigint) => Buffer.concat([tag(field, 0), varint(v)]);
const bfield = (field: number, b: Buffer | string) => {
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([tag(field, 2), varint(buf.length), buf]);
};

export type AttrValue = number | boolean | string | number[] | { float: number } | { floats: number[] } | { long: number };

function attr(name: string, value: AttrValue): Buffer {
  const parts: Buffer[] = [bfield(1, name)];
  if (typeof value === 'boolean') parts.push(vfield(2, 6), vfield(10, value ? 1 : 0));
  else if (typeof value === 'string') parts.push(vfield(2, 2), bfield(5, value));
  else if (typeof value === 'number') parts.push(vfield(2, 0), vfield(3, value));
  else if (Array.isArray(value)) parts.push(vfield(2, 3), ...value.map((v) => vfield(6, v)));
  else if ('float' in value) {
    const f = Buffer.alloc(4);
    f.writeFloatLE(value.float);
    parts.push(vfield(2, 1), tag(4, 5), f);
  } else if ('floats' in value) {
    parts.push(
      vfield(2, 4),
      ...value.floats.map((x) => {
        const f = Buffer.alloc(4);
        f.writeFloatLE(x);
        return Buffer.concat([tag(7, 5), f]);
      }),
    );
  } else parts.push(vfield(2, 9), vfield(13, value.long));
  return Buffer.concat(parts);
}

function tensorDesc(dtype: BuilderDType, dims: number[]): Buffer {
  return Buffer.concat([vfield(1, DTYPES[dtype]), ...dims.map((d) => vfield(2, d))]);
}

export interface VarSpec {
  name: string;
  dtype?: BuilderDType;
  dims: number[];
  persistable?: boolean;
}
export interface OpSpec {
  type: string;
  inputs: Record<string, string[]>;
  outputs: Record<string, string[]>;
  attrs?: Record<string, AttrValue>;
}

/** A ProgramDesc with one block: feed ops for `feeds`, the given ops, fetch ops for `fetches`. */
export function buildProgram(vars: VarSpec[], ops: OpSpec[], feeds: string[], fetches: string[]): Buffer {
  const varDesc = (name: string, type: number, v?: VarSpec) => {
    const vt = Buffer.concat([vfield(1, type), ...(v ? [bfield(3, bfield(1, tensorDesc(v.dtype ?? 'float32', v.dims)))] : [])]);
    return bfield(3, Buffer.concat([bfield(1, name), bfield(2, vt), vfield(3, v?.persistable || !v ? 1 : 0)]));
  };
  const opDesc = (op: OpSpec) => {
    const slot = (field: number, [param, args]: [string, string[]]) =>
      bfield(field, Buffer.concat([bfield(1, param), ...args.map((a) => bfield(2, a))]));
    return bfield(
      4,
      Buffer.concat([
        ...Object.entries(op.inputs).map((s) => slot(1, s)),
        ...Object.entries(op.outputs).map((s) => slot(2, s)),
        bfield(3, op.type),
        ...Object.entries(op.attrs ?? {}).map(([k, v]) => bfield(4, attr(k, v))),
      ]),
    );
  };
  const all: OpSpec[] = [
    ...feeds.map((f, i) => ({ type: 'feed', inputs: { X: ['feed'] }, outputs: { Out: [f] }, attrs: { col: i } })),
    ...ops,
    ...fetches.map((f, i) => ({ type: 'fetch', inputs: { X: [f] }, outputs: { Out: ['fetch'] }, attrs: { col: i } })),
  ];
  const block = Buffer.concat([
    vfield(1, 0),
    vfield(2, -1),
    varDesc('feed', 9),
    varDesc('fetch', 10),
    ...vars.map((v) => varDesc(v.name, 7, v)),
    ...all.map(opDesc),
  ]);
  return bfield(1, block);
}

/** One combined-params record per tensor, in the order given (callers sort by name). */
export function buildParams(tensors: { dtype: BuilderDType; dims: number[]; data: Buffer }[]): Buffer {
  return Buffer.concat(
    tensors.flatMap((t) => {
      const desc = tensorDesc(t.dtype, t.dims);
      const header = Buffer.alloc(20);
      header.writeInt32LE(desc.length, 16);
      return [header, desc, t.data];
    }),
  );
}

export function writeModel(dir: string, program: Buffer, params?: Buffer): void {
  writeFileSync(join(dir, 'model.pdmodel'), program);
  if (params) writeFileSync(join(dir, 'model.pdiparams'), params);
}

/** A float32 parameter of writeFloatModel. */
export interface FloatParam {
  name: string;
  dims: number[];
  values: number[];
}

/** A program and its float32 parameters (persistable vars, records in sorted-name order) in `dir`. */
export function writeFloatModel(dir: string, vars: VarSpec[], ops: OpSpec[], feeds: string[], fetches: string[], params: FloatParam[] = []): void {
  const sorted = [...params].sort((a, b) => (a.name < b.name ? -1 : 1));
  const allVars = [...vars, ...params.map((p) => ({ name: p.name, dims: p.dims, persistable: true }))];
  writeModel(
    dir,
    buildProgram(allVars, ops, feeds, fetches),
    params.length ? buildParams(sorted.map((p) => ({ dtype: 'float32', dims: p.dims, data: Buffer.from(Float32Array.from(p.values).buffer) }))) : undefined,
  );
}
