// Slow readers of large answers against the real sidecar process (sidecar/src/main.ts, plain
// HTTP, auth off, the transformer fixture): N connections each ask for a batch of `--batch`
// sequences (an answer of several MB of JSON) and take it at `--read-rate` bytes/s, above the
// answer pace's floor (1 KiB/s), for `--seconds` from the first (one connection every
// `--stagger-ms`, so the run queue serves each rather than shedding a burst). Prints the process's RSS before, at its peak
// and at the end, and how many connections the sidecar reset and why
// (`paddle_connections_closed_total`), for `--max-held-answer-bytes` as given (default: the
// sidecar's own default). Figures only; never asserts.
//
//   npx tsx bench/sidecar/held-answers.ts [--connections 60] [--batch 24] [--seq 128] [--read-rate 2048] [--seconds 40] [--stagger-ms 400] [--max-held-answer-bytes N]

import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_POLICIES } from '../../sidecar/src/config.js';
import { freePort, ROOT, sidecarProcess } from './common.js';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '60' }, batch: { type: 'string', default: '24' }, seq: { type: 'string', default: '128' }, 'read-rate': { type: 'string', default: '2048' }, seconds: { type: 'string', default: '40' }, 'stagger-ms': { type: 'string', default: '400' }, 'max-held-answer-bytes': { type: 'string' } } });
const N = Number(values.connections);
const BATCH = Number(values.batch);
const SEQ = Number(values.seq);
const RATE = Number(values['read-rate']);
const SECONDS = Number(values.seconds);
const STAGGER_MS = Number(values['stagger-ms']);

const dir = mkdtempSync(join(tmpdir(), 'sidecar-held-'));
const policies = DEFAULT_POLICIES.map((p) => (p.domain === 'model_inference' ? { ...p, callsPerMinute: 1_000_000 } : p));
writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1, model: { name: 'encoder' }, auth: { enabled: false, policies } }));
const metricsPort = await freePort();
const budget = values['max-held-answer-bytes'];
const sidecar = await sidecarProcess([
  '--no-tls', '--host', '127.0.0.1', '--port', '0', '--metrics-port', String(metricsPort), '--health-port', '0', '--grpc-port', '0',
  '--model-dir', join(ROOT, 'native/fixtures/models/transformer/legacy'), '--public-key', join(ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem'), '--config', join(dir, 'config.json'),
  ...(budget !== undefined ? ['--max-held-answer-bytes', budget] : []),
]);
const { child, port } = sidecar;
const rss = (): number => sidecar.rss() / (1024 * 1024);
const tokens = Array.from({ length: BATCH * SEQ }, (_, i) => (i * 37) % 1000);
const body = JSON.stringify({ inputs: [{ name: 'tokens', datatype: 'INT64', shape: [BATCH, SEQ], data: tokens }] });
const request = `POST /v2/models/encoder/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

const before = rss();
let peak = before;
const open = () => {
  const s = connect(port, '127.0.0.1');
  const state = { read: 0, reset: false };
  s.on('error', () => void (state.reset = true));
  s.on('close', () => void (state.reset = true));
  s.write(request);
  // Paused (no 'data' listener): take RATE/4 bytes every 250 ms.
  const t = setInterval(() => {
    const chunk = s.read(Math.max(1, Math.floor(RATE / 4))) as Buffer | null;
    if (chunk) state.read += chunk.length;
  }, 250);
  return { s, state, t };
};
const sockets: ReturnType<typeof open>[] = [];
const opener = setInterval(() => {
  if (sockets.length < N) sockets.push(open());
  else clearInterval(opener);
}, STAGGER_MS);
const started = Date.now();
while (Date.now() - started < SECONDS * 1000) {
  await new Promise((r) => setTimeout(r, 500));
  peak = Math.max(peak, rss());
}
const end = rss();
const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
const closed = metrics.split('\n').filter((l) => l.startsWith('paddle_connections_closed_total{') && l.includes('listener="rest"')).map((l) => l.replace('paddle_connections_closed_total', '')).join(' ');
clearInterval(opener);
for (const x of sockets) {
  clearInterval(x.t);
  x.s.destroy();
}
child.kill('SIGKILL');
const readKb = sockets.map((x) => x.state.read / 1024);
console.log(`held answers: ${sockets.length} connections (one every ${STAGGER_MS} ms) x batch ${BATCH} x seq ${SEQ} (transformer), read at ${RATE} B/s for ${SECONDS} s; --max-held-answer-bytes ${budget ?? 'default'}`);
console.log(`  sidecar RSS before ${before.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, at the end ${end.toFixed(0)} MiB; connections reset ${sockets.filter((x) => x.state.reset).length} of ${sockets.length}; KiB read per connection min ${Math.min(...readKb).toFixed(0)} max ${Math.max(...readKb).toFixed(0)}`);
console.log(`  closed (rest): ${closed || 'none'}`);
process.exit(0);
