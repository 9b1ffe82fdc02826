// What a user sees through kubectl: printer columns, explain, the scale subresource.
import { load } from 'js-yaml';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, kubectl, makeClients, useTestNamespace, waitFor, waitForValue, type Clients } from '../src/index.js';

const CRD_FILE = join(REPO_ROOT, 'crds', 'serving.paddle.io_paddleservices.yaml');
const MINIMAL = join(REPO_ROOT, 'examples', 'minimal.yaml');

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

interface SchemaProps {
  description?: string;
  properties?: Record<string, SchemaProps>;
}
interface LocalCrd {
  spec: { versions: { storage: boolean; additionalPrinterColumns?: { name: string; priority?: number }[]; schema: { openAPIV3Schema: SchemaProps } }[] };
}

/** The committed CRD, as plain YAML (wire field names). */
function localCrd(): LocalCrd {
  return load(readFileSync(CRD_FILE, 'utf8')) as LocalCrd;
}

describe('kubectl and PaddleService', function () {
  this.timeout(600_000);
  let clients: Clients;
  before(() => {
    clients = makeClients();
  });
  const ns = useTestNamespace(() => clients, 'kubectl');

  async function createMinimal(): Promise<string> {
    await kubectl(['apply', '-n', ns.name, '-f', MINIMAL]);
    return (load(readFileSync(MINIMAL, 'utf8')) as { metadata: { name: string } }).metadata.name;
  }

  it('kubectl get psvc prints the printer columns', async () => {
    const name = await createMinimal();
    const version = localCrd().spec.versions.find((v) => v.storage);
    const wanted = (version?.additionalPrinterColumns ?? []).filter((c) => !c.priority).map((c) => c.name.toUpperCase());
    assert.deepEqual(wanted, ['READY', 'REASON', 'DEVICE', 'REPLICAS', 'P95', 'BREAKER', 'AGE']);
    const out = (await kubectl(['get', 'psvc', '-n', ns.name])).stdout.split('\n');
    assert.deepEqual(out[0]?.trim().split(/\s+/), ['NAME', ...wanted]);
    assert.match(out[1] ?? '', new RegExp(`^${name}\\s`));
    const wide = (await kubectl(['get', 'paddleservices', '-n', ns.name, '-o', 'wide'])).stdout.split('\n')[0] ?? '';
    for (const c of version?.additionalPrinterColumns ?? []) assert.ok(wide.includes(c.name.toUpperCase()), `-o wide shows ${c.name}`);
  });

  it('kubectl explain psvc.spec.runtime prints our descriptions', async () => {
    const runtime = localCrd().spec.versions.find((v) => v.storage)?.schema.openAPIV3Schema.properties?.spec?.properties?.runtime;
    assert.ok(runtime?.description, 'spec.runtime has a description in the CRD');
    const fields = Object.entries(runtime.properties ?? {}).filter(([, p]) => p.description);
    assert.ok(fields.length > 0, 'spec.runtime fields have descriptions');
    // The API server publishes a new CRD's OpenAPI a moment after it is Established.
    let text = '';
    await waitFor(async () => {
      const res = await kubectl(['explain', 'psvc.spec.runtime'], { allowFailure: true });
      text = squash(res.stdout);
      return { done: res.code === 0 && text.includes(squash(runtime.description ?? '')), seen: res.stderr || text.slice(0, 300) };
    }, 180_000, 'kubectl explain psvc.spec.runtime to show the runtime description');
    for (const [field, prop] of fields) {
      assert.ok(text.includes(field), `explain lists ${field}`);
      assert.ok(text.includes(squash(prop.description ?? '')), `explain shows the description of ${field}`);
    }
  });

  it('kubectl scale psvc sets spec.replicas through the scale subresource', async () => {
    const name = await createMinimal();
    await kubectl(['scale', 'psvc', name, '-n', ns.name, '--replicas=3']);
    const obj = await clients.custom.getNamespacedCustomObject({ group: 'serving.paddle.io', version: 'v1alpha1', namespace: ns.name, plural: 'paddleservices', name }) as { spec: { replicas?: number } };
    assert.equal(obj.spec.replicas, 3);
    const scale = await waitForValue(
      async () => JSON.parse((await kubectl(['get', '--raw', `/apis/serving.paddle.io/v1alpha1/namespaces/${ns.name}/paddleservices/${name}/scale`])).stdout) as { kind: string; spec: { replicas: number } },
      (s) => s.spec.replicas === 3, 120_000, 'the scale subresource to report 3 replicas');
    assert.equal(scale.kind, 'Scale');
  });
});
