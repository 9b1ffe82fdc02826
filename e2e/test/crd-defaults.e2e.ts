// The API server's structural defaulting and our applyDefaults (crds/src) agree: both read the
// same CRD, and this proves the TypeScript walk fills exactly what the server stores.
import { load } from 'js-yaml';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyDefaults, validatePaddleService, type PaddleServiceSpec } from '../../crds/src/index.js';
import { REPO_ROOT, kubectl, makeClients, useTestNamespace, type Clients } from '../src/index.js';

describe('PaddleService defaults: API server vs crds/src', function () {
  this.timeout(300_000); // kubectl's retries of a starved API server: a bound on a hang
  let clients: Clients;
  before(() => {
    clients = makeClients();
  });
  const ns = useTestNamespace(() => clients, 'defaults');

  for (const file of ['minimal.yaml', 'gpu.yaml']) {
    it(`stores examples/${file} with exactly the spec applyDefaults computes`, async () => {
      const text = readFileSync(join(REPO_ROOT, 'examples', file), 'utf8');
      const doc = load(text) as { metadata: { name: string }; spec: PaddleServiceSpec };
      await kubectl(['apply', '-n', ns.name, '-f', join(REPO_ROOT, 'examples', file)]);
      const stored = JSON.parse((await kubectl(['get', 'psvc', doc.metadata.name, '-n', ns.name, '-o', 'json'])).stdout) as { spec: unknown };
      const ours = JSON.parse(JSON.stringify(applyDefaults(doc.spec))) as unknown;
      assert.deepEqual(ours, stored.spec);
      assert.deepEqual(validatePaddleService(stored).errors, [], 'what the server stored passes our validator');
    });
  }
});
