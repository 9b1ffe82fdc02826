// Open Inference Protocol v2 (REST: JSON tensors, and Triton's binary tensor extension) <->
// predictor tensors. Pure functions: every check raises a SidecarError('bad_request') whose
// message names the offending field. Element conversion lives in tensor-codec.ts.

import { SidecarError } from './errors.js';
import type { Tensor, TensorInfo } from './predictor.js';
import { checkDatatype, fromJsonValues, fromRawBytes, type OipDatatype, toOipDatatype, toRawBytes } from './tensor-codec.js';

export type { OipDatatype };
export { toOipDatatype };

export interface ParsedInferRequest {
  id?: string;
  inputs: Record<string, Tensor>;
  /** Requested output names, or undefined for all. */
  outputs?: string[];
  /**
   * Outputs to answer as binary tensors (the request's `binary_data_output`, or an output's
   * `binary_data` parameter); undefined when every output is answered as JSON.
   */
  binaryOutputs?: Set<string>;
}

const MAX_RANK = 8;
const MAX_ELEMENTS = 1 << 26;

function bad(message: string): SidecarError {
  return new SidecarError('bad_request', message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Nested (row-major) data flattened into `out`, its nesting held to `shape`: each level an array
 * of exactly that dim's length, down to the full rank, values only at the last level. A ragged or
 * partly nested array whose element count happens to match the shape is refused, naming where it
 * departs from the shape (a flattening that ignored the nesting would read rows the caller never
 * meant).
 */
function flattenShaped(name: string, data: unknown, shape: readonly number[], out: unknown[]): void {
  const walk = (v: unknown, level: number, path: string): void => {
    const dim = shape[level] as number;
    if (!Array.isArray(v)) throw bad(`input ${name}: data${path} is not an array, but the shape has ${shape.length} dims (shape[${level}] is ${dim})`);
    if (v.length !== dim) throw bad(`input ${name}: data${path} has ${v.length} elements, shape[${level}] is ${dim}`);
    if (level === shape.length - 1) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (Array.isArray(x)) throw bad(`input ${name}: data${path}[${i}] is nested deeper than the shape's ${shape.length} dims`);
        out.push(x);
      }
      return;
    }
    for (let i = 0; i < v.length; i++) walk(v[i], level + 1, `${path}[${i}]`);
  };
  if (shape.length === 0) throw bad(`input ${name}: data is nested, but the shape has no dims`);
  walk(data, 0, '');
}

/** The data as one flat array: flat arrays as they are (no copy), nested ones flattened and held to `shape`. */
function flatData(name: string, data: unknown, shape: readonly number[]): unknown[] {
  if (!Array.isArray(data)) return [data];
  let nested = false;
  for (let i = 0; i < data.length && !nested; i++) nested = Array.isArray(data[i]);
  if (!nested) {
    if (data.length > MAX_ELEMENTS) throw bad('data has too many elements');
    return data as unknown[];
  }
  const out: unknown[] = [];
  flattenShaped(name, data, shape, out);
  return out;
}

function shapeError(name: string): SidecarError {
  return bad(`input ${name}: shape must be an array of at most ${MAX_RANK} dims`);
}

function checkDim(name: string, d: unknown, i: number): number {
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) throw bad(`input ${name}: shape[${i}] must be a non-negative integer`);
  if (d > MAX_ELEMENTS) throw bad(`input ${name}: shape[${i}] ${d} is above the largest dim, ${MAX_ELEMENTS}`);
  return d;
}

function parseShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.length > MAX_RANK) throw shapeError(name);
  for (let i = 0; i < shape.length; i++) checkDim(name, shape[i], i);
  return (shape as number[]).slice();
}

/** A shape sent as decimal strings (gRPC's int64 dims): each as Number(), then parseShape's checks and messages. */
export function parseDecimalShape(name: string, dims: readonly string[]): number[] {
  if (dims.length > MAX_RANK) throw shapeError(name);
  const shape = new Array<number>(dims.length);
  for (let i = 0; i < dims.length; i++) shape[i] = checkDim(name, Number(dims[i]), i);
  return shape;
}

/** The element count of `shape` after the checks against the model's input: rank, fixed dims, size. */
export function checkShape(name: string, shape: readonly number[], info: TensorInfo): number {
  if (shape.length !== info.shape.length) throw bad(`input ${name}: rank ${shape.length} does not match the model's ${info.shape.length}`);
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = info.shape[i] as number;
    if (d >= 0 && shape[i] !== d) throw bad(`input ${name}: shape[${i}] must be ${d}`);
    count *= shape[i] as number;
  }
  if (count > MAX_ELEMENTS) throw bad(`input ${name}: too many elements`);
  return count;
}

/** The checks of inputs[idx]'s name: a non-empty string naming an input of the model not already in `seen`. */
export function checkInputName(idx: number, name: unknown, modelInputs: TensorInfo[], seen: Record<string, Tensor>): TensorInfo {
  if (typeof name !== 'string' || name.length === 0) throw bad(`inputs[${idx}].name must be a non-empty string`);
  const info = inputsByName(modelInputs).get(name);
  if (!info) throw bad(`input ${JSON.stringify(name.slice(0, 64))} is not an input of this model`);
  if (Object.prototype.hasOwnProperty.call(seen, name)) throw bad(`input ${name} is given twice`);
  return info;
}

/**
 * An input's values (JSON `data`, or gRPC typed contents) as the model's dtype: flat, or nested
 * exactly as `shape` (whose element count, `count`, the checks before computed).
 */
export function valuesData(name: string, datatype: OipDatatype, dtype: Tensor['dtype'], data: unknown, shape: readonly number[], count: number): Tensor['data'] {
  const flat = flatData(name, data, shape);
  if (flat.length !== count) throw bad(`input ${name}: data has ${flat.length} elements, shape needs ${count}`);
  return fromJsonValues(name, datatype, dtype, flat);
}

/**
 * The check of a requested output's name (`known`: outputNames of the model; `seen`: the names
 * requested before it). Each output once: a name repeated N times would be answered N times,
 * an answer as many times over the admitted estimate from a request of a few bytes more.
 */
export function checkOutputName(name: string, known: ReadonlySet<string>, seen: Set<string>): string {
  if (!known.has(name)) throw bad(`output ${JSON.stringify(name.slice(0, 64))} is not an output of this model`);
  if (seen.has(name)) throw bad(`output ${name} is requested twice`);
  seen.add(name);
  return name;
}

/** The model's output names, built once per output list. */
const OUTPUT_NAMES = new WeakMap<TensorInfo[], Set<string>>();
export function outputNames(modelOutputs: TensorInfo[]): Set<string> {
  let s = OUTPUT_NAMES.get(modelOutputs);
  if (!s) {
    s = new Set(modelOutputs.map((o) => o.name));
    OUTPUT_NAMES.set(modelOutputs, s);
  }
  return s;
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

/** A parameter's value when it is a boolean; an error naming it otherwise. */
function boolParam(params: Record<string, unknown>, key: string, where: string): boolean | undefined {
  const v = params[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw bad(`${where}parameters.${key} must be a boolean`);
  return v;
}

/**
 * Parses an OIP v2 inference request body against the model's declared inputs. `binary` is the
 * part of a binary-extension request after its JSON header (Inference-Header-Content-Length):
 * inputs with `parameters.binary_data_size` take their bytes from it, in order, and every byte
 * must be taken.
 */
export function parseInferRequest(body: unknown, modelInputs: TensorInfo[], modelOutputs: TensorInfo[], binary?: Uint8Array): ParsedInferRequest {
  if (!isRecord(body)) throw bad('request body must be a JSON object');
  const { id, inputs, outputs, parameters } = body;
  if (parameters !== undefined && !isRecord(parameters)) throw bad('parameters must be an object');
  const allBinary = parameters ? boolParam(parameters, 'binary_data_output', '') : undefined;
  let offset = 0;
  if (id !== undefined && typeof id !== 'string') throw bad('id must be a string');
  if (!Array.isArray(inputs) || inputs.length === 0) throw bad('inputs must be a non-empty array');
  const result: Record<string, Tensor> = {};
  for (let idx = 0; idx < inputs.length; idx++) {
    const raw: unknown = inputs[idx];
    if (!isRecord(raw)) throw bad(`inputs[${idx}] must be an object`);
    const info = checkInputName(idx, raw.name, modelInputs, result);
    const name = info.name;
    if (raw.parameters !== undefined && !isRecord(raw.parameters)) throw bad(`input ${name}: parameters must be an object`);
    const binarySize = isRecord(raw.parameters) ? raw.parameters.binary_data_size : undefined;
    const datatype = checkDatatype(name, raw.datatype, info.dtype);
    const dtype = info.dtype;
    const shape = parseShape(name, raw.shape);
    const count = checkShape(name, shape, info);
    if (binarySize !== undefined) {
      if (typeof binarySize !== 'number' || !Number.isSafeInteger(binarySize) || binarySize < 0) {
        throw bad(`input ${name}: parameters.binary_data_size must be a non-negative integer`);
      }
      if (raw.data !== undefined) throw bad(`input ${name}: has both data and parameters.binary_data_size`);
      if (!binary) throw bad(`input ${name}: parameters.binary_data_size needs a binary body (the Inference-Header-Content-Length header)`);
      if (offset + binarySize > binary.byteLength) {
        throw bad(`input ${name}: binary_data_size ${binarySize} runs past the end of the binary data (${binary.byteLength - offset} bytes left)`);
      }
      const bytes = binary.subarray(offset, offset + binarySize);
      offset += binarySize;
      result[name] = { dtype, shape, data: fromRawBytes(name, datatype, dtype, bytes, count) };
      continue;
    }
    if (raw.data === undefined) throw bad(`input ${name}: data is missing`);
    result[name] = { dtype, shape, data: valuesData(name, datatype, dtype, raw.data, shape, count) };
  }
  if (binary && offset !== binary.byteLength) {
    throw bad(`the binary data has ${binary.byteLength - offset} bytes that no input's binary_data_size claims`);
  }
  for (const info of modelInputs) {
    if (!(info.name in result)) throw bad(`input ${info.name} is missing`);
  }
  let selected: string[] | undefined;
  let binaryOutputs: Set<string> | undefined;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw bad('outputs must be an array');
    const known = outputNames(modelOutputs);
    const seen = new Set<string>();
    selected = outputs.map((o: unknown, idx) => {
      if (!isRecord(o) || typeof o.name !== 'string') throw bad(`outputs[${idx}].name must be a string`);
      checkOutputName(o.name, known, seen);
      const params = o.parameters;
      if (params !== undefined && !isRecord(params)) throw bad(`outputs[${idx}].parameters must be an object`);
      if (params?.classification !== undefined) throw bad(`output ${o.name}: the classification extension is not supported`);
      const asBinary = params ? boolParam(params, 'binary_data', `outputs[${idx}].`) : undefined;
      if (asBinary ?? allBinary) (binaryOutputs ??= new Set()).add(o.name);
      return o.name;
    });
  } else if (allBinary) {
    binaryOutputs = new Set(modelOutputs.map((o) => o.name));
  }
  const parsed: ParsedInferRequest = { inputs: result };
  if (id !== undefined) parsed.id = id;
  if (selected) parsed.outputs = selected;
  if (binaryOutputs) parsed.binaryOutputs = binaryOutputs;
  return parsed;
}

export interface OipOutputTensor {
  name: string;
  shape: number[];
  datatype: OipDatatype;
  data: number[];
}

/**
 * Refuses (422 non_finite_output) outputs holding NaN or Infinity, which JSON numbers cannot
 * carry (JSON.stringify would write null): the message names the output, how many values and
 * the first one's index.
 */
export function checkFiniteOutputs(outputs: Record<string, Tensor>, names: readonly string[]): void {
  for (const name of names) {
    const d = outputs[name]?.data;
    if (!(d instanceof Float32Array)) continue;
    let first = -1;
    let count = 0;
    for (let i = 0; i < d.length; i++) {
      const v = d[i] as number;
      if (v - v !== 0) {
        if (first < 0) first = i;
        count++;
      }
    }
    if (count > 0) {
      throw new SidecarError('non_finite_output', `output ${name} holds ${count} non-finite value${count === 1 ? '' : 's'} (first at flat index ${first}: ${String(d[first])}) for this input; JSON cannot carry them`);
    }
  }
}

export function tensorToJson(name: string, t: Tensor): OipOutputTensor {
  const data: number[] = new Array<number>(t.data.length);
  if (t.data instanceof BigInt64Array) {
    for (let i = 0; i < t.data.length; i++) data[i] = Number(t.data[i]);
  } else {
    for (let i = 0; i < t.data.length; i++) data[i] = t.data[i] as number;
  }
  return { name, shape: [...t.shape], datatype: toOipDatatype(t.dtype), data };
}

export function buildInferResponse(
  modelName: string,
  modelVersion: string,
  id: string | undefined,
  outputs: Record<string, Tensor>,
  selected: string[] | undefined,
): { model_name: string; model_version: string; id?: string; outputs: OipOutputTensor[] } {
  const names = selected ?? Object.keys(outputs);
  checkFiniteOutputs(outputs, names);
  // A plain loop and one object shape per id case: flatMap and an object spread per answer
  // showed in the chain's profile (every REST and gRPC answer comes through here).
  const tensors: OipOutputTensor[] = [];
  for (const n of names) {
    const t = outputs[n];
    if (t) tensors.push(tensorToJson(n, t));
  }
  return id === undefined ? { model_name: modelName, model_version: modelVersion, outputs: tensors } : { model_name: modelName, model_version: modelVersion, id, outputs: tensors };
}

/**
 * The binary tensor extension's answer: the JSON header (outputs named in `binary` carry
 * `parameters.binary_data_size` and no data) and the raw little-endian bytes of those outputs,
 * in the header's order. The caller sends header then chunks, with
 * `Inference-Header-Content-Length: <header bytes>`.
 */
export function buildBinaryInferResponse(
  modelName: string,
  modelVersion: string,
  id: string | undefined,
  outputs: Record<string, Tensor>,
  selected: string[] | undefined,
  binary: Set<string>,
): { header: string; chunks: Buffer[] } {
  const names = selected ?? Object.keys(outputs);
  // Raw bytes carry NaN and Infinity as they are; JSON numbers cannot (they would become null).
  checkFiniteOutputs(outputs, names.filter((n) => !binary.has(n)));
  const chunks: Buffer[] = [];
  const tensors: unknown[] = [];
  for (const n of names) {
    const t = outputs[n];
    if (!t) continue;
    if (!binary.has(n)) {
      tensors.push(tensorToJson(n, t));
      continue;
    }
    const bytes = toRawBytes(t);
    chunks.push(bytes);
    tensors.push({ name: n, shape: [...t.shape], datatype: toOipDatatype(t.dtype), parameters: { binary_data_size: bytes.byteLength } });
  }
  const header = JSON.stringify({ model_name: modelName, model_version: modelVersion, ...(id === undefined ? {} : { id }), outputs: tensors });
  return { header, chunks };
}

export function tensorMetadata(infos: TensorInfo[]): { name: string; datatype: OipDatatype; shape: number[] }[] {
  return infos.map((i) => ({ name: i.name, datatype: toOipDatatype(i.dtype), shape: [...i.shape] }));
}

/** Sequence length for the matrix: the first input's second dim (1 when rank < 2). */
export function sequenceLength(inputs: Record<string, Tensor>): number {
  for (const name in inputs) {
    const first = inputs[name] as Tensor;
    return first.shape.length >= 2 ? (first.shape[1] ?? 1) : 1;
  }
  return 1;
}
