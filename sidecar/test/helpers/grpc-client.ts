// A small OIP v2 gRPC client over @grpc/grpc-js and the sidecar's own .proto, for tests of the
// real process and for the benchmark (tritonclient.grpc is the outside client in the
// clients tests).

import { credentials, Metadata, makeGenericClientConstructor, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { inferenceServiceDefinition } from '../../src/grpc/service.js';

export type Unary = (req: unknown, md?: Record<string, string>) => Promise<Record<string, unknown>>;

export interface InferenceClient {
  call(method: string, req: unknown, md?: Record<string, string>): Promise<Record<string, unknown>>;
  close(): void;
}

export function tlsCredentials(ca: Buffer, key?: Buffer, cert?: Buffer): ChannelCredentials {
  return credentials.createSsl(ca, key ?? null, cert ?? null);
}

export function inferenceClient(target: string, creds: ChannelCredentials = credentials.createInsecure()): InferenceClient {
  const Ctor = makeGenericClientConstructor(inferenceServiceDefinition(), 'GRPCInferenceService');
  const client = new Ctor(target, creds) as Client & Record<string, (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: Record<string, unknown>) => void) => void>;
  return {
    call: (method, req, md = {}) =>
      new Promise((resolve, reject) => {
        const m = new Metadata();
        for (const [k, v] of Object.entries(md)) m.set(k, v);
        const fn = client[method];
        if (typeof fn !== 'function') throw new Error(`no method ${method}`);
        fn.call(client, req, m, (err, res) => (err ? reject(err) : resolve(res)));
      }),
    close: () => client.close(),
  };
}
