// Where `make clients-venv` puts the inference clients' Python (tritonclient http + grpc, numpy):
// $PADDLE_CLIENTS_PYTHON when make exported it, else the same path the make rule derives
// ($CACHE_DIR or ~/.cache/paddle-operator, venv-clients-<first 12 hex of sha256(requirements.txt)>).

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLIENTS_REQUIREMENTS = join(dirname(fileURLToPath(import.meta.url)), 'requirements.txt');

/** The interpreter's path (it may not exist yet: see `clientsPythonReady`). */
export function clientsPython(): string {
  const fromMake = process.env.PADDLE_CLIENTS_PYTHON;
  if (fromMake) return fromMake;
  const key = createHash('sha256').update(readFileSync(CLIENTS_REQUIREMENTS)).digest('hex').slice(0, 12);
  const cache = process.env.CACHE_DIR || join(homedir(), '.cache', 'paddle-operator');
  return join(cache, `venv-clients-${key}`, 'bin', 'python');
}

/** The venv is installed (its stamp is written last, after an import check of the clients). */
export function clientsPythonReady(): boolean {
  const py = clientsPython();
  return existsSync(py) && existsSync(join(dirname(dirname(py)), '.installed'));
}
