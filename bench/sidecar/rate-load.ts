// Open-loop HTTP load at a fixed offered rate, run as a child process (so the server's CPU time
// is its own): requests are due at Poisson arrival times whatever the answers' latency, over a
// pool of keep-alive connections. A request due while every connection waits for an answer
// waits in this process, and its latency counts from the time it was due, not from when it
// could be sent (no coordinated omission: a slow server is not excused by the client waiting
// for it). Closed-loop load (http-load.ts) measures what a server does at saturation; this is
// the latency a server gives below it, where a latency bound means something.
//
// Prints one JSON line {offered, due, requests, non2xx, late, lost, reopened, seconds, rate,
// p50Us, p99Us, maxUs} over the 2xx answers: `due` requests were due in the window, `late` of
// them waited for a free connection, `lost` got no answer (their connection closed, or none
// came within 5 s of the end), `reopened` connections the server closed were replaced.
//
//   npx tsx bench/sidecar/rate-load.ts URL RATE DURATION_S BODY_FILE CONNECTIONS [HEADER=VALUE ...]

import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

const [url, rateArg, durArg, bodyFile, connsArg = '64', ...headerArgs] = process.argv.slice(2);
if (!url || !rateArg || !durArg || !bodyFile) throw new Error('usage: rate-load.ts URL RATE DURATION_S BODY_FILE CONNECTIONS [HEADER=VALUE ...]');
const RATE = Number(rateArg);
const DURATION_MS = Number(durArg) * 1000;
const CONNS = Number(connsArg);
if (!(RATE > 0) || !(DURATION_MS > 0) || !(CONNS > 0)) throw new Error(`rate, duration and connections must be positive (got ${rateArg}, ${durArg}, ${connsArg})`);
const target = new URL(url);
if (target.protocol !== 'http:') throw new Error(`rate-load.ts speaks plain HTTP/1.1 only, not ${target.protocol}`);

const body = readFileSync(bodyFile);
const head = [`POST ${target.pathname}${target.search} HTTP/1.1`, `host: ${target.host}`, 'content-type: application/json', `content-length: ${body.length}`];
for (const h of headerArgs) {
  const i = h.indexOf('=');
  head.push(`${h.slice(0, i)}: ${h.slice(i + 1)}`);
}
const request = Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]);

/** One keep-alive connection: at most one request outstanding (no pipelining). */
interface Conn {
  socket: Socket;
  /** When the outstanding request was due (performance.now() ms); undefined when idle. */
  dueAt: number | undefined;
  buf: Buffer;
}

let lat = new Float64Array(1 << 16);
let answered = 0;
let non2xx = 0;
let due = 0;
let late = 0;
const idle: Conn[] = [];
/** Due times of requests waiting for a free connection, oldest first. */
const waiting: number[] = [];
let waitingHead = 0;
let stopping = false;

function record(ms: number): void {
  if (answered === lat.length) {
    const grown = new Float64Array(lat.length * 2);
    grown.set(lat);
    lat = grown;
  }
  lat[answered++] = ms;
}

function send(c: Conn, dueAt: number): void {
  c.dueAt = dueAt;
  c.socket.write(request);
}

/** The length of the first complete response in `b` and its status, or undefined while incomplete. */
function parseResponse(b: Buffer): { length: number; status: number; close: boolean } | undefined {
  const end = b.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const headText = b.subarray(0, end).toString('latin1');
  const status = Number(headText.slice(9, 12));
  const lower = headText.toLowerCase();
  if (lower.includes('\r\ntransfer-encoding:')) throw new Error('rate-load.ts reads Content-Length answers only; the server sent a chunked one');
  const at = lower.indexOf('\r\ncontent-length:');
  const length = at < 0 ? 0 : Number.parseInt(lower.slice(at + 17, lower.indexOf('\r\n', at + 17) >>> 0), 10);
  if (end + 4 + length > b.length) return undefined;
  return { length: end + 4 + length, status, close: lower.includes('\r\nconnection: close') };
}

function onData(c: Conn, chunk: Buffer): void {
  c.buf = c.buf.length === 0 ? chunk : Buffer.concat([c.buf, chunk]);
  const r = parseResponse(c.buf);
  if (!r) return;
  c.buf = c.buf.subarray(r.length);
  const dueAt = c.dueAt as number;
  c.dueAt = undefined;
  if (r.status >= 200 && r.status < 300) record(performance.now() - dueAt);
  else non2xx++;
  // The server closes this one after its answer: the close handler replaces it.
  if (r.close) return;
  if (waitingHead < waiting.length) send(c, waiting[waitingHead++] as number);
  else idle.push(c);
}

/** The connections open now (a closed one is replaced; see open()). */
const live = new Set<Conn>();
let reopened = 0;

/**
 * Opens one keep-alive connection. If the server closes it during the load (a shed answer with
 * `connection: close`, an eviction), its outstanding request counts as lost and a new
 * connection takes its place, so the pool keeps its size; the output counts `reopened`.
 */
function open(): Promise<Conn> {
  return new Promise<Conn>((resolve, reject) => {
    const socket = connect(Number(target.port || 80), target.hostname, () => {
      live.add(c);
      resolve(c);
    });
    socket.setNoDelay(true);
    const c: Conn = { socket, dueAt: undefined, buf: Buffer.alloc(0) };
    socket.on('data', (chunk: Buffer) => onData(c, chunk));
    socket.on('error', (err) => {
      if (!live.has(c)) reject(err);
    });
    socket.on('close', () => {
      if (stopping || !live.delete(c)) return;
      reopened++;
      const at = idle.indexOf(c);
      if (at >= 0) idle.splice(at, 1);
      void open().then(
        (n) => {
          if (waitingHead < waiting.length) send(n, waiting[waitingHead++] as number);
          else idle.push(n);
        },
        (err: unknown) => {
          throw new Error(`rate-load.ts could not reopen a connection the server closed: ${String(err)}`);
        },
      );
    });
  });
}

idle.push(...(await Promise.all(Array.from({ length: CONNS }, open))));

// A seeded generator, so runs at the same rate offer the same arrival pattern.
let seed = 0x9e3779b9;
const uniform = (): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const gapMs = (): number => (-Math.log(1 - uniform()) * 1000) / RATE;

const start = performance.now();
let next = start + gapMs();
// Timers fire about once a millisecond: each tick sends every request that fell due since.
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const now = performance.now();
    const stopAt = start + DURATION_MS;
    while (next <= now && next < stopAt) {
      due++;
      const c = idle.pop();
      if (c) send(c, next);
      else {
        late++;
        waiting.push(next);
      }
      next += gapMs();
    }
    if (now >= stopAt) {
      clearInterval(tick);
      resolve();
    }
  }, 1);
});
// The requests still out are answered within a few seconds, or counted lost.
const drainBy = performance.now() + 5000;
while (idle.length < live.size && performance.now() < drainBy) await new Promise((r) => setTimeout(r, 5));
const seconds = (performance.now() - start) / 1000;
stopping = true;
for (const c of live) c.socket.destroy();
const sorted = lat.subarray(0, answered).sort();
const q = (p: number): number => Math.round((sorted[Math.min(answered - 1, Math.floor(p * answered))] ?? 0) * 1000);
console.log(JSON.stringify({ offered: RATE, due, requests: answered, non2xx, late, lost: due - answered - non2xx, reopened, seconds, rate: answered / (DURATION_MS / 1000), p50Us: q(0.5), p99Us: q(0.99), maxUs: q(1) }));
