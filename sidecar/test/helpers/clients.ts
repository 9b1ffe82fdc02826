// Runs the standard Python clients' scripts in sidecar/test/clients/ (triton_clients.py: Triton's
// own clients; kserve_clients.py: KServe's SDK) with the venv of `make clients-venv`, without
// blocking the event loop (the sidecar under test is in-process).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientsPython, clientsPythonReady } from '../../../clients/python-path.js';
import { createGrpcFrontEnd, type GrpcFrontEnd } from '../../src/grpc/server.js';
import { MODEL, pki, startHarness, type Harness } from './harness.js';
import { loadMlpPredictor } from './predictors.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const MLP_CASES = resolve(HERE, '../../../native/fixtures/models/mlp/cases.json');

export interface ClientCase {
  case: string;
  binary: boolean | null;
  output: string;
  shape: number[];
  equal_to_json_path: boolean;
  dtype: string;
  max_abs_diff_paddle: number;
  id: string;
}

export interface ClientRun {
  live: boolean;
  ready: boolean;
  model_ready: boolean;
  server_metadata: { name: string; version: string; extensions: string[] };
  model_metadata: { name: string; inputs: { name: string; datatype: string; shape: (number | string)[] }[] };
  model_config: Record<string, unknown>;
  cases: ClientCase[];
  fp16_equal_to_json_path?: boolean;
  bytes_error?: string | null;
  no_token_error: string | null;
  wrong_scope_error: string | null;
  unknown_model_error: string | null;
}

/** The in-process sidecar on the real MLP predictor with its gRPC front end beside REST (mutual TLS on gRPC when `grpcMutual`). */
export interface ClientsTarget {
  h: Harness;
  grpc: GrpcFrontEnd;
  grpcPort: number;
  close(): Promise<void>;
}

export async function startClientsTarget(restTls: 'none' | 'mtls', grpcMutual: boolean): Promise<ClientsTarget> {
  const h = await startHarness({ predictor: await loadMlpPredictor(), tls: restTls });
  const p = pki();
  const grpc = createGrpcFrontEnd({ core: h.sidecar.core, ...(grpcMutual ? { tls: { certFile: p.serverCert, keyFile: p.serverKey, caFile: p.caCert, mutual: true } } : {}) });
  const grpcPort = await grpc.listen(0, '127.0.0.1');
  return {
    h,
    grpc,
    grpcPort,
    close: async () => {
      await grpc.close();
      await h.close();
    },
  };
}

/** Runs `sidecar/test/clients/<script>` on `cfg` (written to a file in `dir`); its stdout is one JSON object. */
export async function runClientScript(script: string, dir: string, cfg: Record<string, unknown>): Promise<unknown> {
  if (!clientsPythonReady()) throw new Error(`the clients venv is missing (${clientsPython()}): run make clients-venv`);
  const file = join(dir, `clients-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(cfg));
  const stdout = await new Promise<string>((ok, fail) => {
    execFile(clientsPython(), [resolve(HERE, '../clients', script), file], { maxBuffer: 64 << 20, timeout: 120000 }, (err, out, errText) => {
      if (err) fail(new Error(`${script} failed: ${err.message}\n${errText}`));
      else ok(out);
    });
  });
  return JSON.parse(stdout) as unknown;
}

export async function runTritonClients(dir: string, cfg: Record<string, unknown>): Promise<{ http?: ClientRun; grpc?: ClientRun }> {
  return (await runClientScript('triton_clients.py', dir, cfg)) as { http?: ClientRun; grpc?: ClientRun };
}

/** What every client run must show: health, metadata, config, exact inference, refusals. */
export function checkClientRun(r: ClientRun | undefined, kind: 'http' | 'grpc'): void {
  assert.ok(r, `${kind} ran`);
  assert.equal(r.live, true);
  assert.equal(r.ready, true);
  assert.equal(r.model_ready, true);
  assert.equal(r.server_metadata.name, 'paddle-sidecar');
  assert.ok(r.server_metadata.extensions.includes('binary_tensor_data'));
  assert.equal(r.model_metadata.name, MODEL);
  assert.deepEqual(r.model_metadata.inputs.map((i) => [i.name, i.datatype, i.shape.map(Number)]), [['x', 'FP32', [-1, 64]]]);
  const cfg = (kind === 'grpc' ? (r.model_config as { config: Record<string, unknown> }).config : r.model_config) as { name: string; input: { name: string; data_type: string }[] };
  assert.equal(cfg.name, MODEL);
  assert.deepEqual(cfg.input.map((i) => [i.name, i.data_type]), [['x', 'TYPE_FP32']]);
  assert.ok(r.cases.length >= (kind === 'http' ? 4 : 2), `cases: ${r.cases.length}`);
  for (const c of r.cases) {
    assert.equal(c.equal_to_json_path, true, `${c.case} binary=${c.binary}: equal to the JSON path`);
    assert.equal(c.dtype, 'float32');
    assert.ok(c.max_abs_diff_paddle < 1e-5, `${c.case}: ${c.max_abs_diff_paddle} from Paddle's output`);
    assert.equal(c.id, `${c.case}-${c.binary === null ? 'None' : c.binary ? 'True' : 'False'}`, 'the request id is echoed');
  }
  assert.equal(r.fp16_equal_to_json_path, true, 'FP16 input widened exactly');
  assert.match(r.bytes_error ?? '', /BYTES \(string\) tensors are not supported/);
  assert.match(r.no_token_error ?? '', kind === 'http' ? /missing bearer token|401|token/i : /UNAUTHENTICATED/);
  assert.match(r.wrong_scope_error ?? '', kind === 'http' ? /insufficient permissions/ : /PERMISSION_DENIED.*insufficient permissions/);
  assert.match(r.unknown_model_error ?? '', kind === 'http' ? /not served here/ : /NOT_FOUND.*not served here/);
}

