import assert from 'node:assert/strict';
import { isSubset } from '../src/apply.js';
import { formatMebibytes, parseQuantity, sameQuantity } from '../src/quantity.js';

describe('quantities', () => {
  const parse: Array<[string, number | undefined]> = [
    ['1', 1],
    ['500m', 0.5],
    ['2Gi', 2 * 2 ** 30],
    ['8192Mi', 8 * 2 ** 30],
    ['1k', 1000],
    ['1e3', 1000],
    ['1.5', 1.5],
    ['abc', undefined],
    ['', undefined],
    ['1Zi', undefined],
  ];
  for (const [q, v] of parse) it(`parseQuantity(${JSON.stringify(q)}) = ${v}`, () => assert.equal(parseQuantity(q), v));

  const fmt: Array<[number, string]> = [
    [64, '64Mi'],
    [1024, '1Gi'],
    [1536, '1536Mi'],
    [2048, '2Gi'],
    [1048576, '1Ti'],
  ];
  for (const [mib, s] of fmt) it(`formatMebibytes(${mib}) = ${s}`, () => assert.equal(formatMebibytes(mib), s));
  it('formatMebibytes refuses non-positive or fractional input', () => {
    assert.throws(() => formatMebibytes(0), RangeError);
    assert.throws(() => formatMebibytes(1.5), RangeError);
  });

  it('sameQuantity compares values', () => {
    assert.equal(sameQuantity('8192Mi', '8Gi'), true);
    assert.equal(sameQuantity('1000m', '1'), true);
    assert.equal(sameQuantity('1', '2'), false);
    assert.equal(sameQuantity('x', 'x'), true);
    assert.equal(sameQuantity('x', 'y'), false);
  });

  it('isSubset treats resource quantities by value, other strings literally', () => {
    assert.equal(isSubset({ resources: { limits: { memory: '8192Mi', cpu: '1000m' } } }, { resources: { limits: { memory: '8Gi', cpu: '1' } } }), true);
    assert.equal(isSubset({ resources: { limits: { memory: '8192Mi' } } }, { resources: { limits: { memory: '9Gi' } } }), false);
    assert.equal(isSubset({ emptyDir: { sizeLimit: '1024Mi' } }, { emptyDir: { sizeLimit: '1Gi' } }), true);
    assert.equal(isSubset({ env: [{ name: 'A', value: '1000m' }] }, { env: [{ name: 'A', value: '1' }] }), false, 'env values are not quantities');
  });
});
