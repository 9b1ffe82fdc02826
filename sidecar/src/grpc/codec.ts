// ModelInferRequest (gRPC) -> the one parsed inference request the REST path makes (oip.ts's
// ParsedInferRequest), and outputs -> ModelInferResponse with raw_output_contents. Typed
// contents go through the JSON path's value checks, raw_input_contents through the binary
// extension's, and names, datatypes and shapes through oip.ts's per-input checks, so the checks
// and messages are the same code for both front ends; no REST-shaped body is built per call.

import { SidecarError } from '../errors.js';
import { checkInputName, checkOutputName, checkShape, outputNames, parseDecimalShape, valuesData, type ParsedInferRequest } from '../oip.js';
import type { Tensor, TensorInfo } from '../predictor.js';
import { checkDatatype, fromRawBytes, toOipDatatype, toRawBytes } from '../tensor-codec.js';

export interface GrpcParameter {
  parameter_choice?: string;
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

export interface GrpcContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

export interface GrpcInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, GrpcParameter>;
  inputs: { name: string; datatype: string; shape: string[]; parameters: Record<string, GrpcParameter>; contents: GrpcContents | null }[];
  outputs: { name: string; parameters: Record<string, GrpcParameter> }[];
  raw_input_contents: Buffer[];
}

export interface GrpcInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: string; shape: number[] }[];
  raw_output_contents: Buffer[];
}

function bad(message: string): SidecarError {
  return new SidecarError('bad_request', message);
}

/** The typed contents field that carries `datatype` (OIP's InferTensorContents). */
function contentsOf(name: string, datatype: string, c: GrpcContents): unknown[] {
  switch (datatype) {
    case 'BOOL':
      return c.bool_contents;
    case 'INT8':
    case 'INT16':
    case 'INT32':
      return c.int_contents;
    case 'INT64':
      return c.int64_contents;
    case 'UINT8':
    case 'UINT16':
    case 'UINT32':
      return c.uint_contents;
    case 'UINT64':
      return c.uint64_contents;
    case 'FP32':
      return c.fp32_contents;
    case 'FP64':
      return c.fp64_contents;
    case 'BYTES':
      return c.bytes_contents;
    default:
      throw bad(`input ${name}: ${datatype} data must be sent in raw_input_contents`);
  }
}

/**
 * Parses a ModelInferRequest against the model's inputs, with the REST path's checks and
 * messages (oip.ts's per-input checks, in the same order), straight from the decoded message:
 * raw_input_contents[i] is input i's binary_data_size bytes, typed contents its JSON `data`.
 * It refuses exactly what parseInferRequest refuses for the REST body with those tensors
 * (test/grpc-codec.test.ts holds the two side by side).
 */
export function parseGrpcInfer(req: GrpcInferRequest, modelInputs: TensorInfo[], modelOutputs: TensorInfo[]): ParsedInferRequest {
  const raw = req.raw_input_contents;
  const tensors = req.inputs;
  const n = tensors.length;
  const useRaw = raw.length > 0;
  if (useRaw && raw.length !== n) {
    throw bad(`raw_input_contents has ${raw.length} entries for ${n} inputs: one per input, in order`);
  }
  // The typed contents of every input first (an unsupported datatype there, or contents beside raw bytes).
  for (let i = 0; i < n; i++) {
    const t = tensors[i] as GrpcInferRequest['inputs'][number];
    if (t.contents && contentsOf(t.name, t.datatype, t.contents).length > 0 && useRaw) throw bad(`input ${t.name}: has both contents and raw_input_contents`);
  }
  if (n === 0) throw bad('inputs must be a non-empty array');
  const result: Record<string, Tensor> = {};
  for (let i = 0; i < n; i++) {
    const t = tensors[i] as GrpcInferRequest['inputs'][number];
    const info = checkInputName(i, t.name, modelInputs, result);
    const name = info.name;
    const dtype = info.dtype;
    const datatype = checkDatatype(name, t.datatype, dtype);
    const shape = parseDecimalShape(name, t.shape);
    const count = checkShape(name, shape, info);
    const data = useRaw ? fromRawBytes(name, datatype, dtype, raw[i] as Buffer, count) : valuesData(name, datatype, dtype, t.contents ? contentsOf(name, datatype, t.contents) : EMPTY, shape, count);
    result[name] = { dtype, shape, data };
  }
  for (const info of modelInputs) {
    if (!(info.name in result)) throw bad(`input ${info.name} is missing`);
  }
  const parsed: ParsedInferRequest = { inputs: result };
  if (req.id) parsed.id = req.id;
  if (req.outputs.length > 0) {
    const known = outputNames(modelOutputs);
    const seen = new Set<string>();
    parsed.outputs = req.outputs.map((o) => checkOutputName(o.name, known, seen));
  }
  return parsed;
}

const EMPTY: readonly unknown[] = [];

/** The answer: every selected output as raw little-endian bytes (as Triton's gRPC server does). */
export function buildGrpcInferResponse(modelName: string, modelVersion: string, id: string | undefined, outputs: Record<string, Tensor>, selected: string[] | undefined): GrpcInferResponse {
  const names = selected ?? Object.keys(outputs);
  const res: GrpcInferResponse = { model_name: modelName, model_version: modelVersion, id: id ?? '', outputs: [], raw_output_contents: [] };
  for (const n of names) {
    const t = outputs[n];
    if (!t) continue;
    res.outputs.push({ name: n, datatype: toOipDatatype(t.dtype), shape: [...t.shape] });
    res.raw_output_contents.push(toRawBytes(t));
  }
  return res;
}
