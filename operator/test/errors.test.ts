import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { classifyError, describeError, InvalidSpecError, isConflict, isNotFound, type ErrorClass } from '../src/errors.js';

function api(code: number, message = 'boom'): ApiException<string> {
  return new ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ kind: 'Status', message }), {});
}

describe('classifyError', () => {
  const table: Array<[string, unknown, ErrorClass]> = [
    ['409 Conflict', api(409), 'transient'],
    ['429 Too Many Requests', api(429), 'transient'],
    ['500', api(500), 'transient'],
    ['503', api(503), 'transient'],
    ['504', api(504), 'transient'],
    ['408', api(408), 'transient'],
    ['403 Forbidden', api(403), 'permanent'],
    ['422 Invalid', api(422), 'permanent'],
    ['400 Bad Request', api(400), 'permanent'],
    ['404 Not Found', api(404), 'permanent'],
    ['ECONNREFUSED', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }), 'transient'],
    ['fetch failed with cause', new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }), 'transient'],
    ['undici socket', Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), 'transient'],
    ['AbortError', Object.assign(new Error('aborted'), { name: 'AbortError' }), 'transient'],
    ['watch error with statusCode', { statusCode: 503 }, 'transient'],
    ['invalid spec', new InvalidSpecError('spec.model.source: exactly one source'), 'invalid'],
    ['unknown error', new Error('something odd'), 'transient'],
  ];
  for (const [name, err, expected] of table) {
    it(`${name} -> ${expected}`, () => assert.equal(classifyError(err), expected));
  }

  it('recognises 404 and 409', () => {
    assert.equal(isNotFound(api(404)), true);
    assert.equal(isNotFound(api(409)), false);
    assert.equal(isConflict(api(409)), true);
  });

  it('describes API errors by code and the Status message, without the whole body', () => {
    assert.equal(describeError(api(422, 'spec.replicas: Invalid value')), 'HTTP 422: spec.replicas: Invalid value');
    assert.equal(describeError(new Error('plain')), 'plain');
  });
});
