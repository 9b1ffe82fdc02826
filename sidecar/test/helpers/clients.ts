// Runs sidecar/test/clients/triton_clients.py (Triton's own Python clients) with the venv of
// `make clients-venv`, without blocking the event loop (the sidecar under test is in-process).

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientsPython, clientsPythonReady } from '../../../clients/python-path.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = resolve(HERE, '../clients/triton_clients.py');
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

export async function runTritonClients(dir: string, cfg: Record<string, unknown>): Promise<{ http?: ClientRun; grpc?: ClientRun }> {
  if (!clientsPythonReady()) throw new Error(`the clients venv is missing (${clientsPython()}): run make clients-venv`);
  const file = join(dir, `clients-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(cfg));
  const stdout = await new Promise<string>((ok, fail) => {
    execFile(clientsPython(), [SCRIPT, file], { maxBuffer: 64 << 20, timeout: 120000 }, (err, out, errText) => {
      if (err) fail(new Error(`triton_clients.py failed: ${err.message}\n${errText}`));
      else ok(out);
    });
  });
  return JSON.parse(stdout) as { http?: ClientRun; grpc?: ClientRun };
}
