// The bare gRPC reference of bench/sidecar/grpc.ts (and grpc-cpu.ts): ModelInfer reads
// raw_input_contents into a Float32Array, runs the predictor (where the chain would: common.ts
// bareRunner) and answers raw_output_contents; nothing else (no auth, no logs, no metrics, no reply metadata).

import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { PredictorLike } from '../../sidecar/src/predictor.js';
import { bareRunner } from './common.js';

export type BareRequest = { inputs: { name: string; shape: string[] }[]; raw_input_contents: Buffer[] };

export function bareModelInfer(predictor: PredictorLike): (call: ServerUnaryCall<BareRequest, unknown>, done: sendUnaryData<unknown>) => void {
  const run = bareRunner(predictor);
  return (call, done) => {
    const inp = call.request.inputs[0];
    const raw = call.request.raw_input_contents[0];
    if (!inp || !raw) return done({ code: 3, details: 'no input' });
    const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    run({ [inp.name]: { dtype: 'float32', shape: inp.shape.map(Number), data } }).then(
      (out) => {
        const names = Object.keys(out);
        done(null, {
          model_name: 'mlp',
          model_version: '1',
          outputs: names.map((n) => ({ name: n, datatype: 'FP32', shape: out[n]?.shape ?? [] })),
          raw_output_contents: names.map((n) => Buffer.from((out[n]?.data as Float32Array).buffer)),
        });
      },
      (err: unknown) => done({ code: 13, details: String(err) }),
    );
  };
}
