// W3C trace-context ids (trace id 16 bytes, span id 8 bytes, lower-case hex, never all zeros),
// crypto-random. 4 KiB of random bytes are drawn at a time and turned into hex once; each id is a
// slice of that text. Used for every request's spans (tracing.ts) and the process's boot trace id
// (logging.ts).

import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(4096);
let hexPool = '';
let hexPos = 0;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** `bytes` random bytes as lower-case hex. */
function randomHex(bytes: number): string {
  const chars = 2 * bytes;
  if (hexPos + chars > hexPool.length) {
    randomFillSync(POOL);
    hexPool = POOL.toString('hex');
    hexPos = 0;
  }
  const hex = hexPool.slice(hexPos, hexPos + chars);
  hexPos += chars;
  return hex;
}

/** A new W3C trace id (32 hex, never all zeros). */
export function newTraceIdHex(): string {
  let id = randomHex(16);
  while (id === ZERO_TRACE_ID) id = randomHex(16);
  return id;
}

/** A new W3C span id (16 hex, never all zeros). */
export function newSpanIdHex(): string {
  let id = randomHex(8);
  while (id === ZERO_SPAN_ID) id = randomHex(8);
  return id;
}
