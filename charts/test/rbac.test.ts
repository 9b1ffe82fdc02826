// The chart's RBAC against what the operator's code uses. The exact comparison with the calls
// the operator really makes is e2e/test/chart-rbac.e2e.ts (a recording proxy in front of the
// real API server); here the operator's own tables are the source.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1ClusterRole, V1Role } from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import type { PaddleService } from '../../crds/src/index.js';
import { buildRole, resolvePaddleService } from '../../operator/src/builders/index.js';
import { CHILD_RESOURCES, RESOURCES } from '../../operator/src/resources.js';
import { REPO_ROOT, only, render, type RenderedObject } from './lib/chart.js';
import { allows, flatten, key, type PolicyRule } from './lib/rbac.js';

const objects = render();
const clusterRole = only(objects, 'ClusterRole') as RenderedObject & V1ClusterRole;
const leaseRole = only(objects, 'Role') as RenderedObject & V1Role;
const rules = (clusterRole.rules ?? []) as PolicyRule[];
const granted = flatten(rules);

describe('chart RBAC vs the operator', () => {
  it('every child kind the operator applies and watches: list, watch, and create + patch (server-side apply), nothing else', () => {
    for (const [kind, ref] of Object.entries(CHILD_RESOURCES)) {
      const verbs = granted.filter((p) => p.group === ref.group && p.resource === ref.plural).map((p) => p.verb).sort();
      assert.deepEqual(verbs, ['create', 'list', 'patch', 'watch'], `${kind} (${ref.group || 'core'}/${ref.plural})`);
    }
  });

  it('holds every permission it hands to the model pods through their Role (RBAC forbids granting more than you hold)', () => {
    const example = yaml.load(readFileSync(join(REPO_ROOT, 'examples', 'minimal.yaml'), 'utf8')) as PaddleService;
    example.metadata = { ...example.metadata, namespace: 'ml', uid: '00000000-0000-4000-8000-000000000001' };
    const podRole = buildRole(resolvePaddleService(example));
    for (const p of flatten(podRole.rules as PolicyRule[])) {
      assert.ok(allows(rules, { ...p, name: p.names?.[0] }), `the operator grants ${key(p)} to model pods, so the chart must grant it to the operator`);
    }
  });

  it('grants nothing on a resource the operator does not know', () => {
    const known = new Set<string>(Object.values(RESOURCES).flatMap((r) => [`${r.group}:${r.plural}`, `${r.group}:${r.plural}/status`]));
    for (const p of granted) assert.ok(known.has(`${p.group}:${p.resource}`), `${key(p)} is not a resource in operator/src/resources.ts`);
  });

  it('grants no wildcard, no delete, no escalate/bind/impersonate, and no write on secrets', () => {
    for (const p of granted) {
      assert.ok(p.group !== '*' && p.resource !== '*' && p.verb !== '*', `wildcard in ${key(p)}`);
      assert.ok(!['delete', 'deletecollection', 'escalate', 'bind', 'impersonate'].includes(p.verb), `${key(p)}`);
      if (p.resource === 'secrets') assert.equal(p.verb, 'get');
    }
  });

  it('the Lease Role: create any Lease, get and update only the operator\'s', () => {
    const lease = RESOURCES.lease;
    const flat = flatten((leaseRole.rules ?? []) as PolicyRule[]);
    assert.deepEqual(flat.map((p) => key(p)).sort(), [`${lease.group}:leases:create`, `${lease.group}:leases:get`, `${lease.group}:leases:update`]);
    for (const p of flat.filter((x) => x.verb !== 'create')) assert.deepEqual(p.names, ['paddle-operator-leader']);
    assert.ok(!granted.some((p) => p.resource === 'leases'), 'Lease access is namespaced, not in the ClusterRole');
  });
});
