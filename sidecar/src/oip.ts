// Open Inference Protocol v2 (REST, JSON tensors) <-> predictor tensors. Pure functions: every
// check raises a SidecarError('bad_request') whose message names the offending field.

import { SidecarError } from './errors.js';
import type { DType, Tensor, TensorInfo, TypedData } from './predictor.js';

export type OipDatatype = 'FP32' | 'INT64' | 'INT32';

const FROM_OIP: Record<OipDatatype, DType> = { FP32: 'float32', INT64: 'int64', INT32: 'int32' };
const TO_OIP: Record<DType, OipDatatype> = { float32: 'FP32', int64: 'INT64', int32: 'INT32' };

export function toOipDatatype(d: DType): OipDatatype {
  return TO_OIP[d];
}

export interface ParsedInferRequest {
  id?: string;
  inputs: Record<string, Tensor>;
  /** Requested output names, or undefined for all. */
  outputs?: string[];
}

const MAX_RANK = 8;
const MAX_ELEMENTS = 1 << 26;

function bad(message: string): SidecarError {
  return new SidecarError('bad_request', message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Flattens nested (row-major) or flat data into `out`; returns false on a non-array leaf mix. */
function flatten(data: unknown, out: unknown[], depth: number): void {
  if (!Array.isArray(data)) {
    out.push(data);
    return;
  }
  if (depth > MAX_RANK) throw bad('data is nested deeper than the maximum rank');
  for (const v of data) {
    if (Array.isArray(v)) flatten(v, out, depth + 1);
    else out.push(v);
    if (out.length > MAX_ELEMENTS) throw bad('data has too many elements');
  }
}

/** The data as one flat array: flat arrays as they are (no copy), nested ones flattened. */
function flatData(data: unknown): unknown[] {
  if (Array.isArray(data)) {
    let nested = false;
    for (let i = 0; i < data.length && !nested; i++) nested = Array.isArray(data[i]);
    if (!nested) {
      if (data.length > MAX_ELEMENTS) throw bad('data has too many elements');
      return data as unknown[];
    }
  }
  const out: unknown[] = [];
  flatten(data, out, 1);
  return out;
}

function toTypedData(name: string, dtype: DType, values: unknown[]): TypedData {
  switch (dtype) {
    case 'float32': {
      const a = new Float32Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`input ${name}: data[${i}] is not a finite number`);
        a[i] = v;
      }
      return a;
    }
    case 'int32': {
      const a = new Int32Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
          throw bad(`input ${name}: data[${i}] is not an INT32`);
        }
        a[i] = v;
      }
      return a;
    }
    case 'int64': {
      const a = new BigInt64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v === 'number' && Number.isSafeInteger(v)) a[i] = BigInt(v);
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

function parseShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.length > MAX_RANK) throw bad(`input ${name}: shape must be an array of at most ${MAX_RANK} dims`);
  return shape.map((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > MAX_ELEMENTS) {
      throw bad(`input ${name}: shape[${i}] must be a non-negative integer`);
    }
    return d;
  });
}

/** The model's inputs by name, built once per input list (a loaded model's list does not change). */
const INPUTS_BY_NAME = new WeakMap<TensorInfo[], Map<string, TensorInfo>>();
function inputsByName(modelInputs: TensorInfo[]): Map<string, TensorInfo> {
  let m = INPUTS_BY_NAME.get(modelInputs);
  if (!m) {
    m = new Map(modelInputs.map((i) => [i.name, i]));
    INPUTS_BY_NAME.set(modelInputs, m);
  }
  return m;
}

/** Parses an OIP v2 inference request body against the model's declared inputs. */
export function parseInferRequest(body: unknown, modelInputs: TensorInfo[], modelOutputs: TensorInfo[]): ParsedInferRequest {
  if (!isRecord(body)) throw bad('request body must be a JSON object');
  const { id, inputs, outputs } = body;
  if (id !== undefined && typeof id !== 'string') throw bad('id must be a string');
  if (!Array.isArray(inputs) || inputs.length === 0) throw bad('inputs must be a non-empty array');
  const byName = inputsByName(modelInputs);
  const result: Record<string, Tensor> = {};
  inputs.forEach((raw: unknown, idx) => {
    if (!isRecord(raw)) throw bad(`inputs[${idx}] must be an object`);
    const name = raw.name;
    if (typeof name !== 'string' || name.length === 0) throw bad(`inputs[${idx}].name must be a non-empty string`);
    const info = byName.get(name);
    if (!info) throw bad(`input ${JSON.stringify(name.slice(0, 64))} is not an input of this model`);
    if (Object.prototype.hasOwnProperty.call(result, name)) throw bad(`input ${name} is given twice`);
    if (isRecord(raw.parameters) && raw.parameters.binary_data_size !== undefined) {
      throw bad(`input ${name}: binary tensor data is not supported; send JSON data`);
    }
    const datatype = raw.datatype;
    if (typeof datatype !== 'string' || !(datatype in FROM_OIP)) {
      throw bad(`input ${name}: datatype must be one of FP32, INT64, INT32`);
    }
    const dtype = FROM_OIP[datatype as OipDatatype];
    if (dtype !== info.dtype) throw bad(`input ${name}: datatype ${datatype} does not match the model's ${TO_OIP[info.dtype]}`);
    const shape = parseShape(name, raw.shape);
    if (shape.length !== info.shape.length) throw bad(`input ${name}: rank ${shape.length} does not match the model's ${info.shape.length}`);
    let count = 1;
    for (let i = 0; i < shape.length; i++) {
      const d = info.shape[i] as number;
      if (d >= 0 && shape[i] !== d) throw bad(`input ${name}: shape[${i}] must be ${d}`);
      count *= shape[i] as number;
    }
    if (count > MAX_ELEMENTS) throw bad(`input ${name}: too many elements`);
    if (raw.data === undefined) throw bad(`input ${name}: data is missing`);
    const flat = flatData(raw.data);
    if (flat.length !== count) throw bad(`input ${name}: data has ${flat.length} elements, shape needs ${count}`);
    result[name] = { dtype, shape, data: toTypedData(name, dtype, flat) };
  });
  for (const info of modelInputs) {
    if (!(info.name in result)) throw bad(`input ${info.name} is missing`);
  }
  let selected: string[] | undefined;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw bad('outputs must be an array');
    const known = new Set(modelOutputs.map((o) => o.name));
    selected = outputs.map((o: unknown, idx) => {
      if (!isRecord(o) || typeof o.name !== 'string') throw bad(`outputs[${idx}].name must be a string`);
      if (!known.has(o.name)) throw bad(`output ${JSON.stringify(o.name.slice(0, 64))} is not an output of this model`);
      return o.name;
    });
  }
  const parsed: ParsedInferRequest = { inputs: result };
  if (id !== undefined) parsed.id = id;
  if (selected) parsed.outputs = selected;
  return parsed;
}

export interface OipOutputTensor {
  name: string;
  shape: number[];
  datatype: OipDatatype;
  data: number[];
}

export function tensorToJson(name: string, t: Tensor): OipOutputTensor {
  const data: number[] = new Array<number>(t.data.length);
  if (t.data instanceof BigInt64Array) {
    for (let i = 0; i < t.data.length; i++) data[i] = Number(t.data[i]);
  } else {
    for (let i = 0; i < t.data.length; i++) data[i] = t.data[i] as number;
  }
  return { name, shape: [...t.shape], datatype: TO_OIP[t.dtype], data };
}

export function buildInferResponse(
  modelName: string,
  modelVersion: string,
  id: string | undefined,
  outputs: Record<string, Tensor>,
  selected: string[] | undefined,
): { model_name: string; model_version: string; id?: string; outputs: OipOutputTensor[] } {
  const names = selected ?? Object.keys(outputs);
  const tensors = names.flatMap((n) => {
    const t = outputs[n];
    return t ? [tensorToJson(n, t)] : [];
  });
  return { model_name: modelName, model_version: modelVersion, ...(id === undefined ? {} : { id }), outputs: tensors };
}

export function tensorMetadata(infos: TensorInfo[]): { name: string; datatype: OipDatatype; shape: number[] }[] {
  return infos.map((i) => ({ name: i.name, datatype: TO_OIP[i.dtype], shape: [...i.shape] }));
}

/** Sequence length for the matrix: the first input's second dim (1 when rank < 2). */
export function sequenceLength(inputs: Record<string, Tensor>): number {
  for (const name in inputs) {
    const first = inputs[name] as Tensor;
    return first.shape.length >= 2 ? (first.shape[1] ?? 1) : 1;
  }
  return 1;
}
