import assert from 'node:assert/strict';
import { SidecarError } from '../../src/errors.js';
import { corsHeaders, PREFLIGHT_HEADERS } from '../../src/pipeline/cors.js';

describe('pipeline stage: CORS', () => {
  const allowed = ['https://console.example.com'];

  it('passes a request without Origin untouched', () => {
    assert.equal(corsHeaders(undefined, allowed), undefined);
  });

  it('echoes a listed origin (never *) with Vary and the exposed headers', () => {
    const h = corsHeaders('https://console.example.com', allowed) ?? [];
    const get = (n: string): string | undefined => h[h.indexOf(n) + 1];
    assert.equal(get('Access-Control-Allow-Origin'), 'https://console.example.com');
    assert.equal(get('Vary'), 'Origin');
    assert.match(get('Access-Control-Expose-Headers') ?? '', /X-Request-Id.*traceparent.*Retry-After/);
    assert.ok(!h.includes('*'));
  });

  it('refuses any other origin with 403, also when the list is empty', () => {
    for (const [origin, list] of [['https://evil.example.com', allowed], ['https://console.example.com', []], ['null', allowed]] as const) {
      assert.throws(() => corsHeaders(origin, list), (e: unknown) => e instanceof SidecarError && e.httpStatus === 403 && e.message === 'origin not allowed');
    }
  });

  it('a preflight allows GET/POST and the request headers the chain reads', () => {
    const get = (n: string): string | undefined => PREFLIGHT_HEADERS[PREFLIGHT_HEADERS.indexOf(n) + 1];
    assert.equal(get('Access-Control-Allow-Methods'), 'GET, POST, OPTIONS');
    assert.match(get('Access-Control-Allow-Headers') ?? '', /Authorization, Content-Type/);
  });
});
