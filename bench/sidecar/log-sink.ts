// What a pod's log output costs per request: the two lines of an inference (audit + access)
// written to stdout as a pipe (what a container runtime gives a pod), one write per line vs
// BatchingLineSink (one write per event-loop turn), in the same script. Each case runs in a
// child process whose stdout this process drains; the figure is the child's CPU time (user +
// system) per simulated request, with `perTurn` requests finishing in each event-loop turn.
//
//   npx tsx bench/sidecar/log-sink.ts [requests]

import { spawn } from 'node:child_process';

const REQUESTS = Number(process.argv[2] ?? 200000);
const LINE = `${JSON.stringify({ level: 'INFO', timestamp: new Date().toISOString(), service: 'paddle-sidecar', trace_id: 'a'.repeat(32), '@span.id': 'b'.repeat(16), '@log.kind': 'access', method: 'POST', path: '/v2/models/:name/infer', status: 200, duration_ms: 0.31, request_id: 'c'.repeat(36), env_id: 'bench', test_group: 'control', subject: 'bench', message: 'request served' })}\n`;

const child = async (mode: 'per-line' | 'batched', perTurn: number): Promise<{ usPerRequest: number; bytes: number }> => {
  const script = `
    const { BatchingLineSink } = await import(${JSON.stringify(new URL('../../sidecar/src/logging.ts', import.meta.url).pathname)});
    const line = ${JSON.stringify(LINE)};
    const sink = ${mode === 'batched' ? 'new BatchingLineSink((c) => void process.stdout.write(c))' : '{ write: (l) => void process.stdout.write(l), flush() {} }'};
    let left = ${REQUESTS};
    const c0 = process.cpuUsage();
    const turn = () => {
      for (let i = 0; i < ${perTurn} && left > 0; i++, left--) { sink.write(line); sink.write(line); }
      if (left > 0) setImmediate(turn);
      else setImmediate(() => { sink.flush(); const c = process.cpuUsage(c0); process.stderr.write(String((c.user + c.system) / ${REQUESTS})); });
    };
    turn();`;
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let bytes = 0;
  let err = '';
  p.stdout.on('data', (b: Buffer) => void (bytes += b.length));
  p.stderr.on('data', (b: Buffer) => void (err += b.toString()));
  await new Promise((r) => p.on('close', r));
  const us = Number(err.trim());
  if (!Number.isFinite(us)) throw new Error(`child failed: ${err}`);
  return { usPerRequest: us, bytes };
};

console.log(`log output per request (2 lines of ${LINE.length} bytes), stdout a pipe drained by the parent, ${REQUESTS} requests`);
console.log('| requests per turn | per-line writes us/req | batched us/req | per-line / batched |');
console.log('| ---: | ---: | ---: | ---: |');
for (const perTurn of [1, 4, 16]) {
  const a = await child('per-line', perTurn);
  const b = await child('batched', perTurn);
  if (a.bytes !== b.bytes || a.bytes !== REQUESTS * 2 * LINE.length) throw new Error(`bytes differ: ${a.bytes} vs ${b.bytes}`);
  console.log(`| ${perTurn} | ${a.usPerRequest.toFixed(2)} | ${b.usPerRequest.toFixed(2)} | ${(a.usPerRequest / b.usPerRequest).toFixed(2)}x |`);
}
