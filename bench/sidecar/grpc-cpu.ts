// The gRPC front end's and chain's own main-thread CPU per ModelInfer call, without sockets or
// HTTP/2: the chain's ModelInfer handler (grpc/server.ts over createApp, as bench/sidecar/grpc.ts
// builds it: auth on, access and audit lines) and the bare reference handler (grpc-bare.ts) are
// called in one process with in-memory calls. Each call decodes the request bytes and encodes
// the answer with the service's own (de)serialisers, as grpc-js does; the predictor answers at
// once with the MLP's real output. The figure to A/B a change to the gRPC path with (steadier
// than grpc.ts on a busy machine, which also counts HTTP/2, the kernel and the predictor's
// thread hand-off that both servers share). Prints the median and minimum over the rounds.
//
//   npx tsx bench/sidecar/grpc-cpu.ts [--calls 40000] [--rounds 5] [--concurrency 8] [--only bare|chain]

import { EventEmitter } from 'node:events';
import { Metadata, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createGrpcFrontEnd } from '../../sidecar/src/grpc/server.js';
import { inferenceServiceDefinition } from '../../sidecar/src/grpc/service.js';
import { bareModelInfer } from './grpc-bare.js';
import { instantChain, median } from './common.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '40000' }, rounds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '8' }, only: { type: 'string' } } });
const CALLS = Number(values.calls);

const { sidecar, predictor, token, lines, close } = await instantChain({ tmpPrefix: 'sidecar-grpc-cpu-', level: 'info', authEnabled: true });
const front = createGrpcFrontEnd({ core: sidecar.core });

type Handler = (call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>) => void;
const def = inferenceServiceDefinition().ModelInfer;
if (!def) throw new Error('no ModelInfer in the service definition');
// The chain's handler as the server registered it (grpc-js keeps them by path).
const registered = (front.server as unknown as { handlers: Map<string, { func: Handler }> }).handlers.get(def.path);
if (!registered) throw new Error(`the front end registered no ${def.path}`);
const x = Buffer.from(Float32Array.from({ length: 64 }, (_, i) => ((i % 13) - 6) / 10).buffer);
const REQUEST = def.requestSerialize({ model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64] }], raw_input_contents: [x] });

class FakeCall extends EventEmitter {
  cancelled = false;
  request: unknown;
  constructor(readonly metadata: Metadata) {
    super();
    this.request = def?.requestDeserialize(REQUEST);
  }
  getPeer(): string {
    return 'ipv4:127.0.0.1:40000';
  }
  /** What grpc-js's sendMetadata does with the answer's metadata before http2's respond. */
  sendMetadata(md: Metadata): void {
    md.toHttp2Headers();
  }
}

function one(handler: Handler, md: Metadata): Promise<boolean> {
  return new Promise((resolve) => {
    const call = new FakeCall(md);
    handler(call as unknown as ServerUnaryCall<unknown, unknown>, (err, res) => {
      if (err) return resolve(false);
      def?.responseSerialize(res);
      setImmediate(() => {
        call.emit('finish');
        resolve(true);
      });
    });
  });
}

async function drive(handler: Handler, md: Metadata, n: number): Promise<{ usPerCall: number; bad: number }> {
  let next = 0;
  let bad = 0;
  const t = process.cpuUsage();
  await Promise.all(Array.from({ length: Number(values.concurrency) }, async () => {
    while (next < n) {
      next++;
      if (!(await one(handler, md))) bad++;
    }
  }));
  const c = process.cpuUsage(t);
  return { usPerCall: (c.user + c.system) / n, bad };
}

const authed = new Metadata();
authed.set('authorization', `Bearer ${token}`);
const handlers: Record<string, [Handler, Metadata]> = { bare: [bareModelInfer(predictor) as Handler, new Metadata()], chain: [registered.func, authed] };
const names = values.only ? [values.only] : Object.keys(handlers);
for (const name of names) await drive(...(handlers[name] as [Handler, Metadata]), 4000); // warm up
console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
console.log(`in-process gRPC ModelInfer, no sockets: ${CALLS} calls x ${values.rounds} interleaved rounds, ${values.concurrency} in flight; request bytes decoded and answers encoded per call; bare = grpc.ts's bare handler; chain = the front end over the full chain (auth on, HS256; access + audit lines); predictor answers at once with the MLP's output`);
const figures: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < Number(values.rounds); r++) {
  for (const name of names) {
    const f = await drive(...(handlers[name] as [Handler, Metadata]), CALLS);
    if (f.bad > 0) throw new Error(`${name}: ${f.bad} calls failed`);
    figures[name]?.push(f.usPerCall);
  }
}
for (const name of names) console.log(`${name.padEnd(6)} cpu us/call median ${median(figures[name] ?? []).toFixed(2)} min ${Math.min(...(figures[name] ?? [])).toFixed(2)} (rounds ${(figures[name] ?? []).map((v) => v.toFixed(1)).join(', ')})`);
if (figures.bare && figures.chain) console.log(`chain - bare: ${(median(figures.chain) - median(figures.bare)).toFixed(2)} us/call; ${lines()} log lines`);
await front.close();
await close();
