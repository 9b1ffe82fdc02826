// Tensor element codec shared by every front end: OIP v2 datatypes <-> the predictor's typed
// arrays, from JSON values (REST JSON), from raw little-endian bytes (REST binary tensor
// extension, gRPC raw_input_contents) and from gRPC typed contents; outputs to raw bytes.
//
// The executor computes in float32, int32 and int64 (native/lib: DType). A request may send an
// input in a narrower OIP datatype when the conversion to the model's type is exact: FP16 and
// BF16 for an FP32 input (every half/bfloat16 value is a float32), BOOL, INT8, UINT8, INT16,
// UINT16 for INT32 inputs, and those plus INT32 and UINT32 for INT64 inputs. Everything else
// (FP64, UINT64, a wider int than the input, BYTES) is refused with a message naming the input,
// the datatype sent and the ones it accepts. Pure functions; errors are SidecarError('bad_request').

import { SidecarError } from './errors.js';
import type { DType, Tensor, TypedData } from './predictor.js';

export type OipDatatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BF16'
  | 'BYTES';

/** Bytes per element of each fixed-size datatype (BYTES has none). */
export const ELEMENT_BYTES: Readonly<Record<Exclude<OipDatatype, 'BYTES'>, number>> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
  BF16: 2,
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const ALL_DATATYPES = new Set<string>(Object.keys(ELEMENT_BYTES).concat('BYTES'));

export function isOipDatatype(s: unknown): s is OipDatatype {
  return typeof s === 'string' && ALL_DATATYPES.has(s);
}

const MODEL_DATATYPE: Record<DType, OipDatatype> = { float32: 'FP32', int32: 'INT32', int64: 'INT64' };

/** The OIP datatype of a predictor dtype (what metadata and responses name). */
export function toOipDatatype(d: DType): OipDatatype {
  return MODEL_DATATYPE[d];
}

/** The datatypes a request may send for an input of the model's dtype (exact conversions only). */
export const ACCEPTED: Readonly<Record<DType, readonly OipDatatype[]>> = {
  float32: ['FP32', 'FP16', 'BF16'],
  int32: ['INT32', 'INT16', 'INT8', 'UINT16', 'UINT8', 'BOOL'],
  int64: ['INT64', 'INT32', 'INT16', 'INT8', 'UINT32', 'UINT16', 'UINT8', 'BOOL'],
};

function bad(message: string): SidecarError {
  return new SidecarError('bad_request', message);
}

/**
 * Checks that `datatype` may be sent for an input of model dtype `dtype`; returns it typed.
 * The error names the input, what was sent and what is accepted.
 */
export function checkDatatype(name: string, datatype: unknown, dtype: DType): OipDatatype {
  const accepted = ACCEPTED[dtype];
  if (!isOipDatatype(datatype)) {
    throw bad(`input ${name}: datatype must be one of ${accepted.join(', ')} (the model's input is ${MODEL_DATATYPE[dtype]})`);
  }
  if (datatype === 'BYTES') {
    throw bad(`input ${name}: BYTES (string) tensors are not supported; the model's input is ${MODEL_DATATYPE[dtype]}, send one of ${accepted.join(', ')}`);
  }
  if (!accepted.includes(datatype)) {
    throw bad(`input ${name}: datatype ${datatype} does not convert exactly to the model's ${MODEL_DATATYPE[dtype]}; send one of ${accepted.join(', ')}`);
  }
  return datatype;
}

// ---- IEEE half and bfloat16 <-> float

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The value of an IEEE 754 binary16 bit pattern. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The binary16 bit pattern nearest to `v` (round half to even); Infinity beyond the range. */
export function floatToHalf(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // rounds past 65504
  if (a < 2 ** -14) {
    // subnormal: multiples of 2^-24
    const m = roundHalfEven(a * 2 ** 24);
    return sign | m; // m may reach 0x400, which is the smallest normal: still the right pattern
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The value of a bfloat16 bit pattern (the top half of a float32). */
export function bf16ToFloat(b: number): number {
  U32[0] = (b & 0xffff) << 16;
  return F32[0] as number;
}

// ---- JSON values

/** The largest finite FP32, and the smallest double that rounds to FP32 Infinity (half an ulp above it). */
const FP32_MAX = 3.4028234663852886e38;
const FP32_OVERFLOW = 3.4028235677973366e38;

const INT_RANGE: Partial<Record<OipDatatype, [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
};

/** A JSON value of an INT* / UINT* / BOOL datatype as a number (throws when out of the datatype's range). */
function jsonInt(name: string, datatype: OipDatatype, v: unknown, i: number): number {
  if (datatype === 'BOOL') {
    if (v === true || v === 1) return 1;
    if (v === false || v === 0) return 0;
    throw bad(`input ${name}: data[${i}] is not a BOOL (true, false, 1 or 0)`);
  }
  const range = INT_RANGE[datatype] as [number, number];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`input ${name}: data[${i}] is not an ${datatype}`);
  if (v < range[0] || v > range[1]) throw bad(`input ${name}: data[${i}] ${v} is outside the ${datatype} range [${range[0]}, ${range[1]}]`);
  return v;
}

/**
 * Converts flat JSON values sent as `datatype` into the model's dtype. FP32 and INT32/INT64 as
 * before (INT64 also as decimal strings); FP16 values are rounded to half precision, as a
 * binary client's would be, and must be finite and within its range.
 */
export function fromJsonValues(name: string, datatype: OipDatatype, dtype: DType, values: readonly unknown[]): TypedData {
  const n = values.length;
  switch (dtype) {
    case 'float32': {
      const a = pooledFloat32(n);
      if (datatype === 'FP32') {
        // The common case in a loop of its own (one check per element, no datatype branch).
        for (let i = 0; i < n; i++) {
          const v = values[i];
          // A double at or past FP32's rounding edge would become Infinity in the Float32Array.
          if (typeof v !== 'number' || !(v < FP32_OVERFLOW && v > -FP32_OVERFLOW)) throw fp32Error(name, v, i);
          a[i] = v;
        }
        return a;
      }
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`input ${name}: data[${i}] is not a finite number`);
        const bits = datatype === 'FP16' ? floatToHalf(v) : bf16Bits(v);
        const r = datatype === 'FP16' ? halfToFloat(bits) : bf16ToFloat(bits);
        if (!Number.isFinite(r)) throw bad(`input ${name}: data[${i}] is out of ${datatype} range`);
        a[i] = r;
      }
      return a;
    }
    case 'int32': {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = jsonInt(name, datatype, values[i], i);
      return a;
    }
    case 'int64': {
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (datatype !== 'INT64') a[i] = BigInt(jsonInt(name, datatype, v, i));
        else if (typeof v === 'number' && Number.isSafeInteger(v)) a[i] = BigInt(v);
        else if (typeof v === 'number' && Number.isInteger(v)) throw bad(`input ${name}: data[${i}] ${v} is beyond 2^53 as a JSON number: send INT64 values that large as decimal strings`);
        else if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) {
          const b = BigInt(v);
          if (b < -(2n ** 63n) || b >= 2n ** 63n) throw bad(`input ${name}: data[${i}] is out of INT64 range`);
          a[i] = b;
        } else throw bad(`input ${name}: data[${i}] is not an INT64`);
      }
      return a;
    }
  }
}

/**
 * `count` float32 elements on a slice of Node's Buffer pool (as copyOf's copies), uninitialised:
 * the caller writes every element before anyone reads the array. A JSON request's tensor of its
 * own ArrayBuffer cost ~140 ns more at the MLP's 64 floats than this view.
 */
function pooledFloat32(count: number): Float32Array {
  const u = Buffer.allocUnsafe(count * 4);
  return u.byteOffset % 4 === 0 ? new Float32Array(u.buffer, u.byteOffset, count) : new Float32Array(count);
}

/** Why `v` (data[i] of an FP32 input) was refused: not a finite number, or beyond FP32's range. */
function fp32Error(name: string, v: unknown, i: number): SidecarError {
  if (typeof v !== 'number' || !Number.isFinite(v)) return bad(`input ${name}: data[${i}] is not a finite number`);
  return bad(`input ${name}: data[${i}] ${v} is outside the FP32 range (|x| <= ${FP32_MAX})`);
}

/** The bfloat16 nearest to v (round half to even on the dropped 16 bits). */
function bf16Bits(v: number): number {
  F32[0] = v;
  const u = U32[0] as number;
  const lower = u & 0xffff;
  let upper = u >>> 16;
  if (lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1)) upper++;
  return upper & 0xffff;
}

// ---- raw little-endian bytes

/**
 * A copy of `bytes` as `count` elements of `dtype`. The copy is a slice of Node's Buffer pool
 * (Buffer.allocUnsafe: small sizes share one slab, 8-byte aligned) viewed as the typed array:
 * an ArrayBuffer of its own per tensor costs about four times as much at the MLP's 64 floats.
 * Readers of the tensor go by its byteOffset and length (the addon copies exactly those bytes).
 */
function copyOf(dtype: DType, bytes: Uint8Array, count: number): TypedData {
  const u = Buffer.allocUnsafe(bytes.byteLength);
  u.set(bytes);
  if (u.byteOffset % 8 === 0) {
    if (dtype === 'float32') return new Float32Array(u.buffer, u.byteOffset, count);
    if (dtype === 'int32') return new Int32Array(u.buffer, u.byteOffset, count);
    return new BigInt64Array(u.buffer, u.byteOffset, count);
  }
  const a = dtype === 'float32' ? new Float32Array(count) : dtype === 'int32' ? new Int32Array(count) : new BigInt64Array(count);
  new Uint8Array(a.buffer).set(bytes);
  return a;
}

/**
 * Decodes `count` elements of `datatype` from raw little-endian bytes (no padding) into the
 * model's dtype. The byte length must be exactly count x element size; FP16/BF16 must be finite.
 */
export function fromRawBytes(name: string, datatype: OipDatatype, dtype: DType, bytes: Uint8Array, count: number): TypedData {
  if (datatype === 'BYTES') throw bad(`input ${name}: BYTES (string) tensors are not supported`);
  const size = ELEMENT_BYTES[datatype];
  if (bytes.byteLength !== count * size) {
    throw bad(`input ${name}: ${bytes.byteLength} bytes of ${datatype} data, the shape needs ${count * size}`);
  }
  // Same-type data on a little-endian host (FP32, INT32, INT64 for inputs of that type: what
  // gRPC clients and binary REST clients send): one copy of the bytes, then FP32's finiteness
  // pass, instead of one DataView read per element.
  if (LITTLE_ENDIAN && datatype === MODEL_DATATYPE[dtype]) {
    const a = copyOf(dtype, bytes, count);
    if (a instanceof Float32Array) {
      for (let i = 0; i < count; i++) {
        const v = a[i] as number;
        if (v - v !== 0) throw bad(`input ${name}: element ${i} is not a finite number`);
      }
    }
    return a;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'float32': {
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const v = datatype === 'FP32' ? view.getFloat32(i * 4, true) : datatype === 'FP16' ? halfToFloat(view.getUint16(i * 2, true)) : bf16ToFloat(view.getUint16(i * 2, true));
        if (!Number.isFinite(v)) throw bad(`input ${name}: element ${i} is not a finite number`);
        a[i] = v;
      }
      return a;
    }
    case 'int32': {
      const a = new Int32Array(count);
      for (let i = 0; i < count; i++) a[i] = readInt(name, datatype, view, i);
      return a;
    }
    case 'int64': {
      const a = new BigInt64Array(count);
      if (datatype === 'INT64') for (let i = 0; i < count; i++) a[i] = view.getBigInt64(i * 8, true);
      else for (let i = 0; i < count; i++) a[i] = BigInt(readInt(name, datatype, view, i));
      return a;
    }
  }
}

function readInt(name: string, datatype: OipDatatype, view: DataView, i: number): number {
  switch (datatype) {
    case 'BOOL': {
      const b = view.getUint8(i);
      if (b > 1) throw bad(`input ${name}: element ${i} is not a BOOL (byte ${b})`);
      return b;
    }
    case 'INT8':
      return view.getInt8(i);
    case 'UINT8':
      return view.getUint8(i);
    case 'INT16':
      return view.getInt16(i * 2, true);
    case 'UINT16':
      return view.getUint16(i * 2, true);
    case 'INT32':
      return view.getInt32(i * 4, true);
    case 'UINT32':
      return view.getUint32(i * 4, true);
    default:
      throw bad(`input ${name}: datatype ${datatype} is not an integer type`);
  }
}

/** An output tensor's elements as raw little-endian bytes (a view, no copy, on little-endian hosts). */
export function toRawBytes(t: Tensor): Buffer {
  const d = t.data;
  if (LITTLE_ENDIAN) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  const out = Buffer.alloc(d.byteLength);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (d instanceof BigInt64Array) d.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  else if (d instanceof Float32Array) d.forEach((v, i) => view.setFloat32(i * 4, v, true));
  else d.forEach((v, i) => view.setInt32(i * 4, v, true));
  return out;
}
