// HTTP load generator with microsecond latencies, run as a child process (so the server's CPU
// time is its own). autocannon's own result rounds latencies to whole milliseconds (its HDR
// histogram holds integers), too coarse for a sub-millisecond bound; its `response` event gives
// each response's time as a float (hrtime, ns resolution), which this script keeps. Prints one
// JSON line {requests, non2xx, seconds, rate, p50Us, p99Us, maxUs} over the 2xx answers.
// Closed loop: each connection sends its next request as soon as the last is answered.
//
//   npx tsx bench/sidecar/http-load.ts URL CONNECTIONS DURATION_S BODY_FILE [HEADER=VALUE ...]

import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const [url, conns = '8', dur = '5', bodyFile, ...headerArgs] = process.argv.slice(2);
if (!url || !bodyFile) throw new Error('usage: http-load.ts URL CONNECTIONS DURATION_S BODY_FILE [HEADER=VALUE ...]');
const headers: Record<string, string> = { 'content-type': 'application/json' };
for (const h of headerArgs) {
  const i = h.indexOf('=');
  headers[h.slice(0, i)] = h.slice(i + 1);
}

let lat = new Float64Array(1 << 16);
let n = 0;
let finished: (r: autocannon.Result) => void = () => {};
const done = new Promise<autocannon.Result>((resolve) => (finished = resolve));
const instance = autocannon({ url, method: 'POST', body: readFileSync(bodyFile), headers, connections: Number(conns), duration: Number(dur) }, (err, r) => {
  if (err) throw err;
  finished(r);
});
instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
  if (status < 200 || status > 299) return;
  if (n === lat.length) {
    const grown = new Float64Array(lat.length * 2);
    grown.set(lat);
    lat = grown;
  }
  lat[n++] = ms;
});
const result = await done;
const sorted = lat.subarray(0, n).sort();
const q = (p: number): number => Math.round((sorted[Math.min(n - 1, Math.floor(p * n))] ?? 0) * 1000);
const seconds = result.duration;
console.log(JSON.stringify({ requests: n, non2xx: result.non2xx, seconds, rate: n / seconds, p50Us: q(0.5), p99Us: q(0.99), maxUs: q(1) }));
