// The OIP v2 gRPC service definition, loaded at run time from sidecar/proto/inference.proto with
// @grpc/proto-loader (no generated code to keep in step with the .proto; the loader is the gRPC
// project's own). int64 fields decode as decimal strings (no precision lost for INT64 tensors),
// bytes as Buffers, enums as their names, unset fields as their defaults.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The .proto beside the sources (sidecar/proto), also where build-ts copies it under dist/. */
export const PROTO_FILE = [join(HERE, '../../proto/inference.proto'), join(HERE, '../../../../sidecar/proto/inference.proto')].find((p) => existsSync(p)) ?? join(HERE, '../../proto/inference.proto');

export const SERVICE_NAME = 'inference.GRPCInferenceService';

let cached: ServiceDefinition | undefined;

export function inferenceServiceDefinition(): ServiceDefinition {
  if (cached) return cached;
  const pkg = loadSync(PROTO_FILE, { keepCase: true, longs: String, enums: String, defaults: true, arrays: true, oneofs: true });
  const def = pkg[SERVICE_NAME];
  if (!def || !('ModelInfer' in def)) throw new Error(`${PROTO_FILE} does not define ${SERVICE_NAME}`);
  cached = def as ServiceDefinition;
  return cached;
}
