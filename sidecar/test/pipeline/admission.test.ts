// Admission before work (pipeline/admission.ts): the need of a run (predictor estimate + the
// JSON response) against the budget, refused with 422 naming both; shape errors from the
// estimate are 400; figures are cached per shape tuple.

import assert from 'node:assert/strict';
import { Admission, responseElementsBytes } from '../../src/pipeline/admission.js';
import { SidecarError } from '../../src/errors.js';
import type { Tensor, TensorInfo } from '../../src/predictor.js';

const OUTPUTS: TensorInfo[] = [
  { name: 'hidden', dtype: 'float32', shape: [-1, -1, 128] },
  { name: 'pooled', dtype: 'float32', shape: [-1, 128] },
];
const tokens = (b: number, s: number): Record<string, Tensor> => ({ tokens: { dtype: 'int64', shape: [b, s], data: new BigInt64Array(b * s) } });
const MIB = 1024 * 1024;

describe('pipeline: admission', () => {
  it('the response part: dynamic output dims from the inputs, 16 bytes per FP32 element', () => {
    assert.equal(responseElementsBytes(OUTPUTS, { tokens: [2, 10] }), (2 * 10 * 128 + 2 * 128) * 16);
  });

  it('refuses a run above the budget with 422, naming the need and the budget; admits one within it with its bytes', () => {
    let calls = 0;
    const a = new Admission(64 * MIB, OUTPUTS, (shapes) => {
      calls++;
      const [b = 0, s = 0] = shapes.tokens ?? [];
      return b * s * 100_000;
    });
    const small = a.admit(tokens(1, 16));
    assert.equal(small, 1 * 16 * 100_000 + 2 * (16 * 128 + 128) * 16);
    assert.equal(a.admit(tokens(1, 16)), small);
    assert.equal(calls, 1, 'cached per shape tuple');
    const err = (() => {
      try {
        a.admit(tokens(8, 128));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof SidecarError, String(err));
    assert.equal(err.httpStatus, 422);
    assert.equal(err.code, 'over_budget');
    assert.match(err.message, /needs about 101\.\d MiB \(run 97\.7 MiB \+ response 4\.0 MiB\), above the memory budget of 64\.0 MiB per run/);
  });

  it('a shape the model does not take is a 400 before any work; other estimate failures pass through', () => {
    const shapeError = Object.assign(new Error('tokens: rank 3, the model takes 2'), { name: 'ShapeError' });
    const a = new Admission(MIB, OUTPUTS, () => {
      throw shapeError;
    });
    assert.throws(() => a.admit(tokens(1, 1)), (e: unknown) => e instanceof SidecarError && e.httpStatus === 400 && /rank 3/.test(e.message));
    const b = new Admission(MIB, OUTPUTS, () => {
      throw new Error('boom');
    });
    assert.throws(() => b.admit(tokens(1, 1)), /boom/);
  });

  it('without a budget nothing is estimated or refused', () => {
    const a = new Admission(0, OUTPUTS, () => {
      throw new Error('not called');
    });
    assert.equal(a.enabled, false);
    assert.equal(a.admit(tokens(1000, 1000)), 0);
  });
});
