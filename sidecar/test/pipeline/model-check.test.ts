import assert from 'node:assert/strict';
import { SidecarError } from '../../src/errors.js';
import { checkModel } from '../../src/pipeline/model-check.js';

describe('pipeline stage: model allow-list', () => {
  const is404 = (e: unknown): boolean => e instanceof SidecarError && e.httpStatus === 404;

  it('serves the configured name, with no version or version 1', () => {
    checkModel('mlp', 'mlp', undefined);
    checkModel('mlp', 'mlp', '1');
  });

  it('refuses other names (case, traversal, NUL, non-strings) and other versions with 404', () => {
    for (const name of ['MLP', '../mlp', 'mlp\u0000', '', 1, undefined, null]) assert.throws(() => checkModel('mlp', name, undefined), is404, String(name));
    assert.throws(() => checkModel('mlp', 'mlp', '2'), (e: unknown) => is404(e) && (e as Error).message === 'model mlp has no version "2"');
  });

  it('quotes and truncates the refused name in the message', () => {
    assert.throws(() => checkModel('mlp', 'x'.repeat(200), undefined), (e: unknown) => is404(e) && (e as Error).message === `model "${'x'.repeat(64)}" is not served here`);
  });
});
