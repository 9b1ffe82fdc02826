// The gRPC adapter's pure parts: ModelInferRequest -> the REST path's request object (typed
// contents and raw_input_contents give the same tensors as JSON and binary REST bodies),
// outputs -> raw_output_contents, SidecarError statuses -> gRPC codes; random requests parse or
// raise one clear 400 (fuzz).

import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { SidecarError } from '../src/errors.js';
import { buildGrpcInferResponse, parseGrpcInfer, type GrpcContents, type GrpcInferRequest } from '../src/grpc/codec.js';
import { grpcStatusOf } from '../src/grpc/status.js';
import { parseInferRequest } from '../src/oip.js';

const INPUTS = [{ name: 'x', dtype: 'float32' as const, shape: [-1, 2] }, { name: 'ids', dtype: 'int64' as const, shape: [-1, -1] }];
const OUTPUTS = [{ name: 'y', dtype: 'float32' as const, shape: [-1] }];

const empty = (): GrpcContents => ({ bool_contents: [], int_contents: [], int64_contents: [], uint_contents: [], uint64_contents: [], fp32_contents: [], fp64_contents: [], bytes_contents: [] });
function req(o: Partial<GrpcInferRequest>): GrpcInferRequest {
  return { model_name: 'm', model_version: '', id: '', parameters: {}, inputs: [], outputs: [], raw_input_contents: [], ...o };
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
  });
  it('answers raw little-endian bytes per output', () => {
    const r = buildGrpcInferResponse('m', '1', undefined, { y: { dtype: 'float32', shape: [2], data: new Float32Array([1.5, -3]) } }, undefined);
    assert.deepEqual(r.outputs, [{ name: 'y', datatype: 'FP32', shape: [2] }]);
    assert.deepEqual(r.raw_output_contents[0], Buffer.from(new Float32Array([1.5, -3]).buffer));
    assert.equal(r.id, '');
  });
  it('maps statuses as gRPC\'s HTTP guidance does', () => {
    assert.deepEqual([400, 401, 403, 404, 413, 415, 422, 429, 499, 501, 503, 504, 500].map(grpcStatusOf), [
      status.INVALID_ARGUMENT, status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.NOT_FOUND, status.RESOURCE_EXHAUSTED, status.INVALID_ARGUMENT,
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
