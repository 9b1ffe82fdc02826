// The tensor codec (tensor-codec.ts) and the REST binary tensor extension (json-body.ts's
// splitBinaryBody, oip.ts's binary inputs and outputs): exact conversions, refusals that name the
// problem, and fuzz properties (random bodies parse or raise one clear 400, never anything else).

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SidecarError } from '../src/errors.js';
import { splitBinaryBody, binaryTailOf } from '../src/json-body.js';
import { buildBinaryInferResponse, parseInferRequest } from '../src/oip.js';
import { bf16ToFloat, checkDatatype, ELEMENT_BYTES, floatToHalf, fromJsonValues, fromRawBytes, halfToFloat, toRawBytes } from '../src/tensor-codec.js';

const INPUTS = [{ name: 'x', dtype: 'float32' as const, shape: [-1, 4] }, { name: 'ids', dtype: 'int64' as const, shape: [-1, -1] }];
const OUTPUTS = [{ name: 'y', dtype: 'float32' as const, shape: [-1, 2] }, { name: 'n', dtype: 'int32' as const, shape: [-1] }];

function binaryRequest(header: unknown, chunks: Buffer[]): { body: unknown; tail: Buffer | undefined } {
  const head = Buffer.from(JSON.stringify(header));
  const body = splitBinaryBody(Buffer.concat([head, ...chunks]), String(head.length));
  return { body, tail: binaryTailOf(body) };
}

function isClearBadRequest(err: unknown): boolean {
  return err instanceof SidecarError && err.httpStatus === 400 && err.message.length > 0;
}

describe('tensor codec', function () {
  this.timeout(600_000); // property runs are CPU-bound and synchronous: a loaded machine takes longer, never forever
  it('half precision: every finite pattern decodes and encodes back to itself', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = halfToFloat(h);
      if (Number.isNaN(v)) continue;
      assert.equal(floatToHalf(v), h, `pattern ${h.toString(16)} -> ${v}`);
    }
    assert.equal(halfToFloat(0x3c00), 1);
    assert.equal(halfToFloat(0x7bff), 65504);
    assert.equal(halfToFloat(0x0001), 2 ** -24);
    assert.equal(floatToHalf(65520), 0x7c00, 'rounds past the largest half to infinity');
    assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'a tie rounds to even');
    assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02, 'a tie rounds to even (up)');
  });
  it('bfloat16 is the top half of a float32', () => {
    assert.equal(bf16ToFloat(0x3f80), 1);
    assert.equal(bf16ToFloat(0xc040), -3);
  });
  it('accepts only exact conversions and names the input, what was sent and what it takes', () => {
    assert.equal(checkDatatype('x', 'FP16', 'float32'), 'FP16');
    assert.equal(checkDatatype('ids', 'UINT32', 'int64'), 'UINT32');
    assert.equal(checkDatatype('ids', 'BOOL', 'int32'), 'BOOL');
    assert.throws(() => checkDatatype('x', 'FP64', 'float32'), /input x: datatype FP64 does not convert exactly to the model's FP32; send one of FP32, FP16, BF16/);
    assert.throws(() => checkDatatype('n', 'INT64', 'int32'), /INT64 does not convert exactly to the model's INT32/);
    assert.throws(() => checkDatatype('n', 'UINT32', 'int32'), /UINT32 does not convert exactly/);
    assert.throws(() => checkDatatype('x', 'BYTES', 'float32'), /input x: BYTES \(string\) tensors are not supported; the model's input is FP32/);
    assert.throws(() => checkDatatype('x', 'fp32', 'float32'), /datatype must be one of FP32, FP16, BF16/);
  });
  it('JSON values: ranges per datatype, BOOL as true/false/1/0, FP16 rounded as a binary client would', () => {
    assert.deepEqual([...fromJsonValues('n', 'INT8', 'int32', [-128, 127])], [-128, 127]);
    assert.throws(() => fromJsonValues('n', 'INT8', 'int32', [128]), /data\[0\] 128 is outside the INT8 range \[-128, 127\]/);
    assert.throws(() => fromJsonValues('n', 'INT8', 'int32', [1.5]), /data\[0\] is not an INT8/);
    assert.throws(() => fromJsonValues('n', 'UINT8', 'int64', [-1]), /-1 is outside the UINT8 range \[0, 255\]/);
    assert.deepEqual([...fromJsonValues('n', 'BOOL', 'int64', [true, false, 1, 0])], [1n, 0n, 1n, 0n]);
    assert.throws(() => fromJsonValues('n', 'BOOL', 'int32', [2]), /is not a BOOL/);
    assert.deepEqual([...fromJsonValues('x', 'FP16', 'float32', [0.1])], [halfToFloat(floatToHalf(0.1))]);
    assert.throws(() => fromJsonValues('x', 'FP16', 'float32', [70000]), /out of FP16 range/);
  });
  it('FP32 JSON values: each tensor its own memory (pooled slices never shared), values exact as Float32Array rounds them (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.double({ min: -3e38, max: 3e38, noNaN: true }), { maxLength: 1200 }), { minLength: 2, maxLength: 8 }), (tensors) => {
        const got = tensors.map((vals) => fromJsonValues('x', 'FP32', 'float32', vals) as Float32Array);
        // Written after all were made: a tensor sharing memory with a later one would now differ.
        got.forEach((a, i) => {
          assert.ok(a instanceof Float32Array);
          assert.deepEqual([...a], [...Float32Array.from(tensors[i] ?? [])]);
          for (const b of got) if (b !== a && b.buffer === a.buffer) assert.ok(b.byteOffset >= a.byteOffset + a.byteLength || a.byteOffset >= b.byteOffset + b.byteLength, 'two tensors overlap');
        });
      }),
      { numRuns: 200 },
    );
  });

  it('raw bytes: little-endian, exact length, integers widened, BOOL bytes 0/1 only', () => {
    const i16 = Buffer.alloc(4);
    i16.writeInt16LE(-300, 0);
    i16.writeInt16LE(300, 2);
    assert.deepEqual([...fromRawBytes('n', 'INT16', 'int64', i16, 2)], [-300n, 300n]);
    assert.throws(() => fromRawBytes('n', 'INT16', 'int64', i16, 3), /4 bytes of INT16 data, the shape needs 6/);
    assert.throws(() => fromRawBytes('n', 'BOOL', 'int32', Buffer.from([0, 2]), 2), /element 1 is not a BOOL/);
    const inf = Buffer.alloc(2);
    inf.writeUInt16LE(0x7c00);
    assert.throws(() => fromRawBytes('x', 'FP16', 'float32', inf, 1), /element 0 is not a finite number/);
    const t = { dtype: 'int64' as const, shape: [2], data: new BigInt64Array([-1n, 2n ** 40n]) };
    assert.deepEqual(fromRawBytes('n', 'INT64', 'int64', toRawBytes(t), 2), t.data);
  });
  it('raw bytes of the model\'s own datatype (the copy path) decode as element-wise little-endian reads, at any alignment (property)', () => {
    const cases: ['FP32' | 'INT32' | 'INT64', 'float32' | 'int32' | 'int64'][] = [['FP32', 'float32'], ['INT32', 'int32'], ['INT64', 'int64']];
    fc.assert(
      fc.property(fc.constantFrom(...cases), fc.nat({ max: 7 }), fc.uint8Array({ maxLength: 72 }), fc.option(fc.constantFrom(0x7f800000, 0xff800000, 0x7fc00001), { nil: undefined }), ([dt, dtype], shift, raw, special) => {
        const size = ELEMENT_BYTES[dt];
        const count = Math.floor(raw.length / size);
        // The tensor's bytes at an odd offset of a larger buffer, as a protobuf field's bytes are.
        const bytes = Buffer.alloc(shift + count * size);
        bytes.set(raw.subarray(0, count * size), shift);
        const view = bytes.subarray(shift);
        const dv = new DataView(view.buffer, view.byteOffset, view.byteLength);
        if (special !== undefined && dt === 'FP32' && count > 0) dv.setUint32((count - 1) * 4, special, true);
        const expected: number[] | bigint[] = [];
        let firstBad = -1;
        for (let i = 0; i < count; i++) {
          const v = dt === 'FP32' ? dv.getFloat32(i * 4, true) : dt === 'INT32' ? dv.getInt32(i * 4, true) : dv.getBigInt64(i * 8, true);
          if (typeof v === 'number' && dt === 'FP32' && !Number.isFinite(v) && firstBad < 0) firstBad = i;
          (expected as unknown[]).push(v);
        }
        if (firstBad >= 0) {
          assert.throws(() => fromRawBytes('v', dt, dtype, view, count), new RegExp(`^SidecarError: input v: element ${firstBad} is not a finite number$`));
          return;
        }
        const decoded = fromRawBytes('v', dt, dtype, view, count);
        assert.equal(decoded.byteLength, count * size);
        view.fill(0xee); // a copy: the request's bytes may be reused once parsed
        assert.deepEqual(Array.from(decoded as ArrayLike<number | bigint>), expected);
        assert.throws(() => fromRawBytes('v', dt, dtype, view, count + 1), /bytes of .* data, the shape needs/);
      }),
      { numRuns: 3000 },
    );
  });
  it('raw bytes of every accepted datatype decode to the JSON path\'s values (property)', () => {
    const cases: [keyof typeof ELEMENT_BYTES, 'float32' | 'int32' | 'int64'][] = [
      ['FP32', 'float32'], ['FP16', 'float32'], ['BF16', 'float32'], ['INT8', 'int32'], ['UINT8', 'int32'], ['INT16', 'int32'],
      ['UINT16', 'int64'], ['INT32', 'int64'], ['UINT32', 'int64'], ['BOOL', 'int64'],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...cases), fc.uint8Array({ maxLength: 64 }), ([dt, dtype], raw) => {
        const size = ELEMENT_BYTES[dt];
        const count = Math.floor(raw.length / size);
        const bytes = raw.subarray(0, count * size);
        let decoded;
        try {
          decoded = fromRawBytes('v', dt, dtype, bytes, count);
        } catch (err) {
          assert.ok(isClearBadRequest(err), String(err)); // non-finite half, BOOL byte > 1
          return;
        }
        const values = Array.from(decoded as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? Number(v) : dt === 'BOOL' ? v !== 0 : v));
        const viaJson = fromJsonValues('v', dt, dtype, values);
        assert.deepEqual(viaJson, decoded);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('REST binary tensor extension', function () {
  this.timeout(600_000); // property runs are CPU-bound and synchronous: a loaded machine takes longer, never forever
  it('takes each input\'s bytes in order and answers selected outputs as binary', () => {
    const x = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer);
    const ids = Buffer.from(new Int32Array([7, 8, 9]).buffer);
    const { body, tail } = binaryRequest({
      id: 'r1',
      inputs: [
        { name: 'x', shape: [2, 4], datatype: 'FP32', parameters: { binary_data_size: x.length } },
        { name: 'ids', shape: [1, 3], datatype: 'INT32', parameters: { binary_data_size: ids.length } },
      ],
      outputs: [{ name: 'y', parameters: { binary_data: true } }, { name: 'n' }],
    }, [x, ids]);
    const p = parseInferRequest(body, INPUTS, OUTPUTS, tail);
    assert.deepEqual([...(p.inputs.x?.data ?? [])], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(p.inputs.ids?.data, new BigInt64Array([7n, 8n, 9n]));
    assert.deepEqual([...(p.binaryOutputs ?? [])], ['y']);
    const y = { dtype: 'float32' as const, shape: [1, 2], data: new Float32Array([0.25, 0.75]) };
    const n = { dtype: 'int32' as const, shape: [1], data: new Int32Array([3]) };
    const r = buildBinaryInferResponse('m', '1', p.id, { y, n }, p.outputs, p.binaryOutputs ?? new Set());
    assert.deepEqual(JSON.parse(r.header), {
      model_name: 'm', model_version: '1', id: 'r1',
      outputs: [{ name: 'y', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: 8 } }, { name: 'n', shape: [1], datatype: 'INT32', data: [3] }],
    });
    const bytes = Buffer.concat(r.chunks);
    assert.deepEqual(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), y.data);
  });
  it('binary_data_output makes every output binary unless an output says otherwise', () => {
    const body = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }, { name: 'ids', shape: [1, 1], datatype: 'INT64', data: [1] }], parameters: { binary_data_output: true } };
    assert.deepEqual([...(parseInferRequest(body, INPUTS, OUTPUTS).binaryOutputs ?? [])], ['y', 'n']);
    const some = { ...body, outputs: [{ name: 'y' }, { name: 'n', parameters: { binary_data: false } }] };
    assert.deepEqual([...(parseInferRequest(some, INPUTS, OUTPUTS).binaryOutputs ?? [])], ['y']);
  });
  it('refuses sizes that do not add up, with messages naming them', () => {
    const x = Buffer.alloc(16);
    const hdr = (size: number, extra: Record<string, unknown> = {}): unknown => ({
      inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: size }, ...extra }, { name: 'ids', shape: [1, 1], datatype: 'INT64', data: [1] }],
    });
    const parse = (h: unknown, chunks: Buffer[]): unknown => {
      const { body, tail } = binaryRequest(h, chunks);
      return parseInferRequest(body, INPUTS, OUTPUTS, tail);
    };
    assert.throws(() => parse(hdr(32), [x]), /binary_data_size 32 runs past the end of the binary data \(16 bytes left\)/);
    assert.throws(() => parse(hdr(8), [x]), /8 bytes of FP32 data, the shape needs 16/);
    assert.throws(() => parse(hdr(16), [x, Buffer.alloc(3)]), /3 bytes that no input's binary_data_size claims/);
    assert.throws(() => parse(hdr(16, { data: [1, 2, 3, 4] }), [x]), /both data and parameters.binary_data_size/);
    assert.throws(() => parseInferRequest(hdr(16), INPUTS, OUTPUTS), /needs a binary body/);
    assert.throws(() => splitBinaryBody(Buffer.from('{}'), '9'), /does not fit the 2-byte body/);
    assert.throws(() => splitBinaryBody(Buffer.from('{}'), 'x'), /must be a byte count/);
    assert.throws(() => splitBinaryBody(Buffer.from('[1]xx'), '3'), /must be an object/);
  });
  it('random binary bodies and header lengths parse or raise one clear 400 (fuzz)', () => {
    const input = fc.record({
      name: fc.constantFrom('x', 'ids', 'zz'),
      shape: fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 3 }),
      datatype: fc.constantFrom('FP32', 'FP16', 'BF16', 'INT64', 'INT32', 'INT8', 'UINT8', 'BOOL', 'BYTES', 'FP64', 'x'),
      parameters: fc.option(fc.record({ binary_data_size: fc.oneof(fc.integer({ min: -2, max: 40 }), fc.jsonValue()) }), { nil: undefined }),
      data: fc.option(fc.array(fc.oneof(fc.double(), fc.integer(), fc.boolean())), { nil: undefined }),
    });
    const header = fc.record({
      inputs: fc.array(input, { maxLength: 3 }),
      outputs: fc.option(fc.array(fc.record({ name: fc.constantFrom('y', 'n', 'q'), parameters: fc.option(fc.dictionary(fc.constantFrom('binary_data', 'classification'), fc.jsonValue()), { nil: undefined }) })), { nil: undefined }),
      parameters: fc.option(fc.dictionary(fc.constantFrom('binary_data_output', 'other'), fc.jsonValue()), { nil: undefined }),
    });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 80 }), fc.integer({ min: -3, max: 3 }), (h, tail, skew) => {
        const head = Buffer.from(JSON.stringify(h));
        try {
          const body = splitBinaryBody(Buffer.concat([head, tail]), String(head.length + skew));
          parseInferRequest(body, INPUTS, OUTPUTS, binaryTailOf(body));
        } catch (err) {
          assert.ok(isClearBadRequest(err), String(err));
        }
      }),
      { numRuns: 3000 },
    );
  });
});
