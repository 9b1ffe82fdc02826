// gRPC load generator for bench/sidecar/grpc.ts, run as a child process (so the server's CPU
// time is its own): `concurrency` callers on one HTTP/2 channel each send ModelInfer back to back
// for `duration` seconds with the same raw-bytes MLP request; prints one JSON line
// {requests, errors, seconds, p50Ms, p99Ms}.
//
//   npx tsx bench/sidecar/grpc-load.ts TARGET CONCURRENCY DURATION_S [TOKEN]

import { credentials, Metadata, makeGenericClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { inferenceServiceDefinition } from '../../sidecar/src/grpc/service.js';

const [target = '127.0.0.1:8001', conc = '8', dur = '5', token] = process.argv.slice(2);
const Ctor = makeGenericClientConstructor(inferenceServiceDefinition(), 'GRPCInferenceService');
const client = new Ctor(target, credentials.createInsecure()) as unknown as Client & { ModelInfer: (req: unknown, md: Metadata, cb: (err: ServiceError | null) => void) => void };
const md = new Metadata();
if (token) md.set('authorization', `Bearer ${token}`);
const x = Buffer.from(Float32Array.from({ length: 64 }, (_, i) => ((i % 13) - 6) / 10).buffer);
const req = { model_name: 'mlp', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64] }], raw_input_contents: [x] };
const call = (): Promise<void> => new Promise((ok, fail) => client.ModelInfer(req, md, (err) => (err ? fail(err) : ok())));

for (let i = 0; i < 50; i++) await call(); // warm-up (connection, caches)
const lat: number[] = [];
let errors = 0;
const end = Date.now() + Number(dur) * 1000;
const t0 = process.hrtime.bigint();
await Promise.all(
  Array.from({ length: Number(conc) }, async () => {
    while (Date.now() < end) {
      const s = process.hrtime.bigint();
      try {
        await call();
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      } catch {
        errors++;
      }
    }
  }),
);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
lat.sort((a, b) => a - b);
const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
console.log(JSON.stringify({ requests: lat.length, errors, seconds, p50Ms: q(0.5), p99Ms: q(0.99) }));
client.close();
