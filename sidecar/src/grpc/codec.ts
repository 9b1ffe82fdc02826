// ModelInferRequest (gRPC) -> the one inference request object the REST path parses
// (oip.ts parseInferRequest), and outputs -> ModelInferResponse with raw_output_contents.
// Typed contents become the JSON path's `data`, raw_input_contents the binary extension's bytes,
// so shape, datatype, size and range checks are the same code for both front ends.

import { SidecarError } from '../errors.js';
import { parseInferRequest, type ParsedInferRequest } from '../oip.js';
import type { Tensor, TensorInfo } from '../predictor.js';
import { toOipDatatype, toRawBytes } from '../tensor-codec.js';

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

/** Parses a ModelInferRequest against the model's inputs (the checks of the REST path). */
export function parseGrpcInfer(req: GrpcInferRequest, modelInputs: TensorInfo[], modelOutputs: TensorInfo[]): ParsedInferRequest {
  const raw = req.raw_input_contents;
  if (raw.length > 0 && raw.length !== req.inputs.length) {
    throw bad(`raw_input_contents has ${raw.length} entries for ${req.inputs.length} inputs: one per input, in order`);
  }
  const inputs = req.inputs.map((t, i) => {
    const shape = t.shape.map(Number);
    const entry: Record<string, unknown> = { name: t.name, datatype: t.datatype, shape };
    if (raw.length > 0) {
      if (t.contents && contentsOf(t.name, t.datatype, t.contents).length > 0) throw bad(`input ${t.name}: has both contents and raw_input_contents`);
      entry.parameters = { binary_data_size: (raw[i] as Buffer).length };
    } else {
      entry.data = t.contents ? contentsOf(t.name, t.datatype, t.contents) : [];
    }
    return entry;
  });
  const body: Record<string, unknown> = { inputs };
  if (req.id) body.id = req.id;
  if (req.outputs.length > 0) body.outputs = req.outputs.map((o) => ({ name: o.name }));
  const binary = raw.length === 0 ? undefined : raw.length === 1 ? (raw[0] as Buffer) : Buffer.concat(raw);
  return parseInferRequest(body, modelInputs, modelOutputs, binary);
}

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
