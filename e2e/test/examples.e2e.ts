// Every example in examples/ (invalid/ aside) applies to the local cluster as it is: the API
// server stores it (schema, CEL rules, defaults). Whether it then serves here is what its first
// lines say (docs/test/examples.test.ts holds them to it): "Runs here:" ones are run by their
// own suites (make demo), "Needs:" ones name what is missing on this cluster.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { loadAll } from 'js-yaml';
import { exampleFiles } from '../../docs/test/examples.js';
import { REPO_ROOT, SERVICE_ACCOUNT_TIMEOUT_MS, createTestNamespace, deleteTestNamespace, kubectl, makeClients, type Clients } from '../src/index.js';

describe('examples/ apply to the local cluster', function () {
  this.timeout(120_000);
  let clients: Clients;
  let ns = '';
  before(async function () {
    this.timeout(SERVICE_ACCOUNT_TIMEOUT_MS + 60_000);
    clients = makeClients();
    ns = await createTestNamespace(clients, 'examples');
  });
  after(async () => {
    if (ns) await deleteTestNamespace(clients, ns);
  });

  for (const file of exampleFiles()) {
    it(`kubectl apply -f ${relative(REPO_ROOT, file)}`, async () => {
      const res = await kubectl(['apply', '-n', ns, '-f', file]);
      const docs = loadAll(readFileSync(file, 'utf8')) as Array<{ kind?: string; metadata?: { name?: string } }>;
      for (const d of docs.filter((x) => x?.kind === 'PaddleService')) {
        assert.match(res.stdout, new RegExp(`paddleservice\\.serving\\.paddle\\.io/${d.metadata?.name ?? ''} created`));
        const got = JSON.parse((await kubectl(['get', 'psvc', d.metadata?.name ?? '', '-n', ns, '-o', 'json'])).stdout) as { spec?: { model?: unknown } };
        assert.ok(got.spec?.model, 'stored with its spec');
      }
    });
  }
});
