// The PaddleService CRD on a real API server: accepted, structural, CEL compiled, examples
// accepted, invalid examples rejected with their CEL messages.
import { ApiextensionsV1Api, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { load } from 'js-yaml';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, kubectl, makeClients, useTestNamespace, waitForValue, type Clients } from '../src/index.js';

const CRD_FILE = join(REPO_ROOT, 'crds', 'serving.paddle.io_paddleservices.yaml');
const CRD_NAME = 'paddleservices.serving.paddle.io';
const INVALID_DIR = join(REPO_ROOT, 'examples', 'invalid');

/** Every x-kubernetes-validations rule in a schema tree (plain JSON/YAML, wire field names). */
function celRules(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(celRules);
  if (!node || typeof node !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(node)) {
    if (k === 'x-kubernetes-validations' && Array.isArray(v)) out.push(...v.map((r: { rule: string }) => r.rule));
    else out.push(...celRules(v));
  }
  return out;
}

/** The message an invalid example must be rejected with: its leading `# expect: <message>` line. */
function expectedMessage(text: string, file: string): string {
  const m = /^#\s*expect:\s*(.+?)\s*$/m.exec(text.split('\n').find((l) => l.trim() !== '') ?? '');
  if (!m?.[1]) throw new Error(`${file}: first line must be "# expect: <message>"`);
  return m[1];
}

const invalidExamples = existsSync(INVALID_DIR) ? readdirSync(INVALID_DIR).filter((f) => /\.ya?ml$/.test(f)).sort() : [];

describe('PaddleService CRD', function () {
  this.timeout(300_000);
  let clients: Clients;
  before(() => {
    clients = makeClients();
  });
  const ns = useTestNamespace(() => clients, 'crd');

  it('is accepted by the API server, Established, with accepted names and a structural schema', async () => {
    // cluster-up installs it too; applying here surfaces the API server's refusal, if any.
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', CRD_FILE]);
    const ext = clients.kc.makeApiClient(ApiextensionsV1Api);
    const crd = await waitForValue<V1CustomResourceDefinition>(
      () => ext.readCustomResourceDefinition({ name: CRD_NAME }),
      (c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ?? false,
      180_000, `CRD ${CRD_NAME} Established`);
    const conds = Object.fromEntries((crd.status?.conditions ?? []).map((c) => [c.type, c]));
    assert.equal(conds.NamesAccepted?.status, 'True');
    assert.equal(conds.NonStructuralSchema, undefined, `non-structural: ${conds.NonStructuralSchema?.message}`);
    assert.ok(crd.spec.names.shortNames?.includes('psvc'));
  });

  it('stores every CEL rule of crds/ (the API server compiled them) and accepts the file as is', async () => {
    const local = load(readFileSync(CRD_FILE, 'utf8')) as { spec: { versions: unknown } };
    const localRules = celRules(local.spec.versions);
    assert.ok(localRules.length > 0, 'the CRD has x-kubernetes-validations rules');
    const served = JSON.parse((await kubectl(['get', 'crd', CRD_NAME, '-o', 'json'])).stdout) as { spec: { versions: unknown } };
    assert.deepEqual(celRules(served.spec.versions).sort(), localRules.sort());
    // A CEL rule that does not compile (or exceeds the cost budget) makes the API server refuse
    // the CRD; a server-side dry run re-validates the file as committed.
    const res = await kubectl(['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', CRD_FILE]);
    assert.match(res.stdout, /customresourcedefinition.apiextensions.k8s.io\/paddleservices.serving.paddle.io serverside-applied/);
  });

  for (const example of ['minimal.yaml', 'gpu.yaml']) {
    it(`accepts examples/${example}`, async () => {
      const file = join(REPO_ROOT, 'examples', example);
      const res = await kubectl(['apply', '-n', ns.name, '-f', file]);
      assert.match(res.stdout, /paddleservice\.serving\.paddle\.io\/\S+ created/);
      const name = (load(readFileSync(file, 'utf8')) as { metadata: { name: string } }).metadata.name;
      const got = JSON.parse((await kubectl(['get', 'psvc', name, '-n', ns.name, '-o', 'json'])).stdout) as { spec: unknown };
      assert.ok(got.spec, 'the stored object has a spec');
    });
  }

  it('has invalid examples, each with a leading "# expect:" line', () => {
    assert.ok(invalidExamples.length > 0, `no YAML files in ${INVALID_DIR}`);
    for (const f of invalidExamples) expectedMessage(readFileSync(join(INVALID_DIR, f), 'utf8'), f);
  });

  for (const f of invalidExamples) {
    it(`rejects examples/invalid/${f} with its expected message`, async () => {
      const file = join(INVALID_DIR, f);
      const expected = expectedMessage(readFileSync(file, 'utf8'), f);
      const res = await kubectl(['apply', '-n', ns.name, '-f', file], { allowFailure: true });
      assert.notEqual(res.code, 0, `kubectl apply accepted ${f}: ${res.stdout}`);
      assert.ok(res.stderr.includes(expected), `expected the error to contain ${JSON.stringify(expected)}, got: ${res.stderr.trim()}`);
      const left = await kubectl(['get', 'psvc', '-n', ns.name, '-o', 'name']);
      assert.equal(left.stdout.trim(), '', 'nothing was stored');
    });
  }
});
