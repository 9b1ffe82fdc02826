// The gRPC adapter's pure parts: ModelInferRequest -> the parsed request (typed contents and
// raw_input_contents give the same tensors as JSON and binary REST bodies, and random requests
// give exactly what parseInferRequest gives for the REST body with those tensors: the same
// tensors or the same refusal), outputs -> raw_output_contents, SidecarError statuses -> gRPC
// codes; random requests parse or raise one clear 400 (fuzz).

import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { SidecarError } from '../src/errors.js';
import { buildGrpcInferResponse, parseGrpcInfer, type GrpcContents, type GrpcInferRequest } from '../src/grpc/codec.js';
import { grpcStatusOf } from '../src/grpc/status.js';
import { parseInferRequest, type ParsedInferRequest } from '../src/oip.js';
import type { TensorInfo } from '../src/predictor.js';

const INPUTS = [{ name: 'x', dtype: 'float32' as const, shape: [-1, 2] }, { name: 'ids', dtype: 'int64' as const, shape: [-1, -1] }];
const OUTPUTS = [{ name: 'y', dtype: 'float32' as const, shape: [-1] }];

const empty = (): GrpcContents => ({ bool_contents: [], int_contents: [], int64_contents: [], uint_contents: [], uint64_contents: [], fp32_contents: [], fp64_contents: [], bytes_contents: [] });
function req(o: Partial<GrpcInferRequest>): GrpcInferRequest {
  return { model_name: 'm', model_version: '', id: '', parameters: {}, inputs: [], outputs: [], raw_input_contents: [], ...o };
}

/** The typed contents field of `datatype`, as the REST body's `data` (what the first gRPC adapter sent to parseInferRequest). */
function restData(name: string, datatype: string, c: GrpcContents): unknown[] {
  const field: Record<string, keyof GrpcContents> = {
    BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents', UINT8: 'uint_contents',
    UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents', FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
  };
  const f = field[datatype];
  if (!f) throw new SidecarError('bad_request', `input ${name}: ${datatype} data must be sent in raw_input_contents`);
  return c[f];
}

/**
 * The reference: the gRPC request as the REST body with the same tensors (typed contents as
 * `data`, raw_input_contents as binary-extension bytes with binary_data_size) through the REST
 * parser, with the adapter's own two checks (raw entries per input, contents beside raw bytes).
 */
function viaRestBody(req: GrpcInferRequest, inputs: TensorInfo[], outputs: TensorInfo[]): ParsedInferRequest {
  const raw = req.raw_input_contents;
  if (raw.length > 0 && raw.length !== req.inputs.length) {
    throw new SidecarError('bad_request', `raw_input_contents has ${raw.length} entries for ${req.inputs.length} inputs: one per input, in order`);
  }
  const body: Record<string, unknown> = {
    inputs: req.inputs.map((t, i) => {
      const entry: Record<string, unknown> = { name: t.name, datatype: t.datatype, shape: t.shape.map(Number) };
      if (raw.length > 0) {
        if (t.contents && restData(t.name, t.datatype, t.contents).length > 0) throw new SidecarError('bad_request', `input ${t.name}: has both contents and raw_input_contents`);
        entry.parameters = { binary_data_size: (raw[i] as Buffer).length };
      } else {
        entry.data = t.contents ? restData(t.name, t.datatype, t.contents) : [];
      }
      return entry;
    }),
  };
  if (req.id) body.id = req.id;
  if (req.outputs.length > 0) body.outputs = req.outputs.map((o) => ({ name: o.name }));
  return parseInferRequest(body, inputs, outputs, raw.length === 0 ? undefined : Buffer.concat(raw));
}

/** What a parse gives: the parsed request, or the refusal's status and message. */
function outcome(parse: () => ParsedInferRequest): { ok: ParsedInferRequest } | { refused: string } {
  try {
    return { ok: parse() };
  } catch (err) {
    assert.ok(err instanceof SidecarError, String(err));
    return { refused: `${err.httpStatus} ${err.message}` };
  }
}

describe('gRPC codec', function () {
  this.timeout(600_000); // property runs are CPU-bound and synchronous: a loaded machine takes longer, never forever
  it('typed contents and raw bytes give the JSON path\'s tensors', () => {
    const json = parseInferRequest({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [0.5, -2] }, { name: 'ids', shape: [1, 2], datatype: 'INT64', data: [7, '9007199254740993'] }] }, INPUTS, OUTPUTS);
    const typed = parseGrpcInfer(req({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: ['1', '2'], parameters: {}, contents: { ...empty(), fp32_contents: [0.5, -2] } },
        { name: 'ids', datatype: 'INT64', shape: ['1', '2'], parameters: {}, contents: { ...empty(), int64_contents: ['7', '9007199254740993'] } },
      ],
    }), INPUTS, OUTPUTS);
    assert.deepEqual(typed.inputs, json.inputs);
    const raw = parseGrpcInfer(req({
      id: 'q',
      inputs: [
        { name: 'x', datatype: 'FP32', shape: ['1', '2'], parameters: {}, contents: null },
        { name: 'ids', datatype: 'INT32', shape: ['1', '2'], parameters: {}, contents: null },
      ],
      raw_input_contents: [Buffer.from(new Float32Array([0.5, -2]).buffer), Buffer.from(new Int32Array([7, 8]).buffer)],
      outputs: [{ name: 'y', parameters: {} }],
    }), INPUTS, OUTPUTS);
    assert.deepEqual(raw.inputs.x, json.inputs.x);
    assert.deepEqual(raw.inputs.ids?.data, new BigInt64Array([7n, 8n]));
    assert.equal(raw.id, 'q');
    assert.deepEqual(raw.outputs, ['y']);
  });
  it('refuses what does not add up, naming it', () => {
    const x = { name: 'x', datatype: 'FP32', shape: ['1', '2'], parameters: {}, contents: null };
    const ids = { name: 'ids', datatype: 'INT64', shape: ['1', '1'], parameters: {}, contents: null };
    assert.throws(() => parseGrpcInfer(req({ inputs: [x, ids], raw_input_contents: [Buffer.alloc(8)] }), INPUTS, OUTPUTS), /raw_input_contents has 1 entries for 2 inputs/);
    assert.throws(() => parseGrpcInfer(req({ inputs: [{ ...x, datatype: 'FP16', contents: empty() }, ids] }), INPUTS, OUTPUTS), /FP16 data must be sent in raw_input_contents/);
    assert.throws(() => parseGrpcInfer(req({ inputs: [x, { ...ids, contents: { ...empty(), int64_contents: ['1'] } }], raw_input_contents: [Buffer.alloc(8), Buffer.alloc(8)] }), INPUTS, OUTPUTS), /both contents and raw_input_contents/);
    assert.throws(() => parseGrpcInfer(req({ inputs: [{ ...x, datatype: 'BYTES', contents: { ...empty(), bytes_contents: [Buffer.from('a'), Buffer.from('b')] } }, ids] }), INPUTS, OUTPUTS), /BYTES \(string\) tensors are not supported/);
    // An output named N times would be answered N times (a 6 KB REST request drew a 257 MB answer on the transformer).
    const ok = { inputs: [x, ids], raw_input_contents: [Buffer.alloc(8), Buffer.alloc(8)] };
    assert.throws(() => parseGrpcInfer(req({ ...ok, outputs: [{ name: 'y', parameters: {} }, { name: 'y', parameters: {} }] }), INPUTS, OUTPUTS), /^SidecarError: output y is requested twice$/);
  });
  it('gives exactly what the REST parser gives for the same tensors: the same tensors or the same refusal (property)', () => {
    const contents = (n: number) => fc.record({
      bool_contents: fc.array(fc.boolean(), { maxLength: n }),
      int_contents: fc.array(fc.oneof(fc.integer({ min: -200, max: 200 }), fc.integer()), { maxLength: n }),
      int64_contents: fc.array(fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), fc.constantFrom('x', '1.5', '')), { maxLength: n }),
      uint_contents: fc.array(fc.nat(), { maxLength: n }),
      uint64_contents: fc.array(fc.nat().map(String), { maxLength: n }),
      fp32_contents: fc.array(fc.oneof(fc.float(), fc.constantFrom(Infinity, NaN)), { maxLength: n }),
      fp64_contents: fc.array(fc.double(), { maxLength: n }),
      bytes_contents: fc.array(fc.uint8Array({ maxLength: 3 }).map((a) => Buffer.from(a)), { maxLength: 2 }),
    });
    // Mostly well-formed x and ids tensors (so both parsers get past the header checks and
    // compare values), with a wrong name, datatype, dim, element or byte count some of the time.
    const dimsOf = (shape: string[]): number => shape.reduce((a, d) => a * (Number(d) >= 0 && Number(d) <= 8 ? Number(d) : 1), 1);
    const tensor = (name: string, datatypes: string[]) =>
      fc.record({
        name: fc.oneof({ weight: 12, arbitrary: fc.constant(name) }, { weight: 1, arbitrary: fc.constantFrom('', 'q', 'y', 'x', 'ids') }),
        datatype: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...datatypes) }, { weight: 1, arbitrary: fc.constantFrom('FP32', 'FP16', 'BF16', 'INT64', 'INT32', 'INT8', 'UINT8', 'BOOL', 'UINT32', 'BYTES', 'FP64', 'UINT64', '', 'fp32') }),
        shape: fc.oneof({ weight: 8, arbitrary: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 3 })).map(([a, b]) => [String(a), String(b)]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom('-1', '0', '2', 'x', '1e3', '99999999999', ''), { maxLength: 9 }) }),
        pool: contents(8),
        offBy: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1) }),
        both: fc.oneof({ weight: 10, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      });
    const request = fc.record({
      id: fc.constantFrom('', 'req-1'),
      inputs: fc.oneof({ weight: 6, arbitrary: fc.tuple(tensor('x', ['FP32', 'FP32', 'FP16', 'BF16']), tensor('ids', ['INT64', 'INT64', 'INT32', 'INT8', 'UINT8', 'BOOL', 'UINT32'])).map((t) => [...t]) }, { weight: 1, arbitrary: fc.array(tensor('x', ['FP32']), { maxLength: 3 }) }),
      raw: fc.constantFrom('none', 'sized', 'sized', 'random'),
      fill: fc.uint8Array({ minLength: 64, maxLength: 64 }),
      outputs: fc.oneof({ weight: 4, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom<string>('y', 'z'), { maxLength: 2 }) }),
    });
    const SIZE: Record<string, number> = { FP32: 4, INT64: 8, INT32: 4, FP16: 2, BF16: 2, INT8: 1, UINT8: 1, BOOL: 1, UINT32: 4, FP64: 8, UINT64: 8 };
    let parsed = 0;
    fc.assert(
      fc.property(request, fc.array(fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)), { maxLength: 3 }), (r, randomRaw) => {
        const useRaw = r.raw !== 'none';
        const inputs = r.inputs.map((t) => {
          const n = Math.max(0, dimsOf(t.shape) + t.offBy);
          const sized = Object.fromEntries(Object.entries(t.pool).map(([k, v]) => [k, (v as unknown[]).slice(0, n)])) as unknown as GrpcContents;
          return { name: t.name, datatype: t.datatype, shape: t.shape, parameters: {}, contents: useRaw ? (t.both ? sized : null) : sized };
        });
        let raw: Buffer[] = [];
        if (r.raw === 'random') raw = randomRaw;
        else if (r.raw === 'sized') {
          // Each input's bytes for its shape and datatype from `fill`: BOOL bytes mostly 0/1, floats mostly finite.
          raw = r.inputs.map((t) => {
            const bytes = Buffer.alloc(Math.max(0, dimsOf(t.shape) + t.offBy) * (SIZE[t.datatype] ?? 1));
            for (let i = 0; i < bytes.length; i++) bytes[i] = t.datatype === 'BOOL' ? ((r.fill[i % 64] as number) % 7 === 0 ? 2 : (r.fill[i % 64] as number) & 1) : (r.fill[i % 64] as number) % 251 === 0 ? 0xff : (r.fill[i % 64] as number) & 0x3f;
            return bytes;
          });
        }
        const req: GrpcInferRequest = { model_name: 'm', model_version: '', id: r.id, parameters: {}, inputs, outputs: r.outputs.map((name) => ({ name, parameters: {} })), raw_input_contents: raw };
        const direct = outcome(() => parseGrpcInfer(req, INPUTS, OUTPUTS));
        const reference = outcome(() => viaRestBody(req, INPUTS, OUTPUTS));
        assert.deepEqual(direct, reference);
        if ('ok' in direct) parsed++;
      }),
      { numRuns: 4000 },
    );
    assert.ok(parsed > 100, `only ${parsed} of the random requests parsed: the property compares too few tensors`);
  });
  it('answers raw little-endian bytes per output', () => {
    const r = buildGrpcInferResponse('m', '1', undefined, { y: { dtype: 'float32', shape: [2], data: new Float32Array([1.5, -3]) } }, undefined);
    assert.deepEqual(r.outputs, [{ name: 'y', datatype: 'FP32', shape: [2] }]);
    assert.deepEqual(r.raw_output_contents[0], Buffer.from(new Float32Array([1.5, -3]).buffer));
    assert.equal(r.id, '');
  });
  it('maps statuses as gRPC\'s HTTP guidance does', () => {
    assert.deepEqual([400, 401, 403, 404, 408, 413, 415, 422, 429, 499, 501, 503, 504, 500].map(grpcStatusOf), [
      status.INVALID_ARGUMENT, status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.NOT_FOUND, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.INVALID_ARGUMENT,
      status.FAILED_PRECONDITION, status.RESOURCE_EXHAUSTED, status.CANCELLED, status.UNIMPLEMENTED, status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.INTERNAL,
    ]);
  });
  it('random requests parse or raise one clear 400 (fuzz)', () => {
    const contents = fc.record({
      bool_contents: fc.array(fc.boolean(), { maxLength: 4 }),
      int_contents: fc.array(fc.integer(), { maxLength: 4 }),
      int64_contents: fc.array(fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), fc.string()), { maxLength: 4 }),
      uint_contents: fc.array(fc.nat(), { maxLength: 4 }),
      uint64_contents: fc.array(fc.nat().map(String), { maxLength: 4 }),
      fp32_contents: fc.array(fc.float(), { maxLength: 4 }),
      fp64_contents: fc.array(fc.double(), { maxLength: 4 }),
      bytes_contents: fc.array(fc.uint8Array({ maxLength: 3 }).map((a) => Buffer.from(a)), { maxLength: 2 }),
    });
    const input = fc.record({
      name: fc.constantFrom('x', 'ids', 'q'),
      datatype: fc.constantFrom('FP32', 'FP16', 'INT64', 'INT32', 'INT8', 'UINT8', 'UINT64', 'BOOL', 'BYTES', 'FP64', ''),
      shape: fc.array(fc.oneof(fc.integer({ min: -1, max: 3 }).map(String), fc.constant('x')), { maxLength: 3 }),
      parameters: fc.constant({}),
      contents: fc.option(contents, { nil: null }),
    });
    fc.assert(
      fc.property(fc.array(input, { maxLength: 3 }), fc.array(fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)), { maxLength: 3 }), (inputs, raw) => {
        try {
          parseGrpcInfer(req({ inputs, raw_input_contents: raw }), INPUTS, OUTPUTS);
        } catch (err) {
          assert.ok(err instanceof SidecarError && err.httpStatus === 400 && err.message.length > 0, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
