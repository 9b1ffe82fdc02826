import assert from 'node:assert/strict';
import { SidecarError } from '../../src/errors.js';
import { checkContentType, declaresBody } from '../../src/pipeline/content-type.js';

describe('pipeline stage: Content-Type', () => {
  const h = (ct: string | undefined, length = '10'): Record<string, string> => ({ 'content-length': length, ...(ct === undefined ? {} : { 'content-type': ct }) });
  const unsupported = (headers: Record<string, string>, re: RegExp, what: string): void =>
    assert.throws(() => checkContentType(headers), (e: unknown) => e instanceof SidecarError && e.httpStatus === 415 && e.code === 'unsupported_media_type' && re.test(e.message), what);

  it('a body is declared by a non-zero Content-Length or by Transfer-Encoding, nothing else', () => {
    assert.equal(declaresBody({ 'content-length': '10' }), true);
    assert.equal(declaresBody({ 'content-length': '0' }), false);
    assert.equal(declaresBody({ 'transfer-encoding': 'chunked' }), true);
    assert.equal(declaresBody({}), false);
    // A length wins over a transfer coding node:http would have refused anyway.
    assert.equal(declaresBody({ 'content-length': '0', 'transfer-encoding': 'chunked' }), false);
  });

  it('accepts application/json in any case, with utf-8 or no charset, and no Content-Type at all; refuses the rest with 415 naming it', () => {
    for (const ok of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"', ' application/json ; charset=utf8']) {
      assert.equal(checkContentType(h(ok)), 'application/json', ok);
    }
    for (const [bad, re] of [
      ['text/plain', /Content-Type "text\/plain" is not supported: send application\/json/],
      ['application/x-www-form-urlencoded', /x-www-form-urlencoded/],
      ['application/xml', /application\/xml/],
      ['multipart/form-data; boundary=x', /multipart\/form-data/],
      ['application/json; charset=latin1', /charset "latin1"/],
      ['application/json; charset="utf-16"', /charset "utf-16"/],
      ['', /an empty Content-Type/],
      ['application/octet-stream', /application\/octet-stream" is not supported: send application\/json$/],
    ] as const) {
      unsupported(h(bad), re, bad);
    }
    assert.equal(checkContentType(h(undefined)), undefined, 'no Content-Type: read as JSON (tritonclient and KServe clients send none)');
  });

  it('checks nothing on a request without a body, whatever it declares', () => {
    assert.equal(checkContentType(h(undefined, '0')), undefined);
    assert.equal(checkContentType(h('text/plain', '0')), undefined, 'a GET or an empty POST with a stray Content-Type is not refused');
  });

  it('a chunked body is checked like one with a length', () => {
    unsupported({ 'transfer-encoding': 'chunked', 'content-type': 'text/plain' }, /text\/plain/, 'chunked text/plain');
    assert.equal(checkContentType({ 'transfer-encoding': 'chunked', 'content-type': 'application/json' }), 'application/json');
  });

  it('the binary tensor extension (Inference-Header-Content-Length) may also say application/octet-stream, and only it', () => {
    const binary = (ct: string): Record<string, string> => ({ ...h(ct), 'inference-header-content-length': '40' });
    assert.equal(checkContentType(binary('application/octet-stream')), 'application/octet-stream');
    assert.equal(checkContentType(binary('application/json')), 'application/json');
    unsupported(binary('text/plain'), /send application\/json or application\/octet-stream$/, 'binary request as text/plain');
  });

  it('a long or odd Content-Type is quoted, cut to 64 characters, in the message', () => {
    const long = `application/${'x'.repeat(200)}`;
    assert.throws(
      () => checkContentType(h(long)),
      (e: unknown) => e instanceof SidecarError && e.httpStatus === 415 && e.message.includes(JSON.stringify(long.slice(0, 64))) && !e.message.includes(long.slice(0, 65)),
    );
    unsupported(h('text/"plain"\u0001'), /Content-Type "text\/\\"plain\\"\\u0001" is not supported/, 'quotes and control characters are escaped');
  });
});
