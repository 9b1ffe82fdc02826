// CHECKLIST 4.3 with canary.treatmentPercent: callers without an X-Test-Group header are
// assigned to treatment with that probability, sticky per caller; an explicit header wins;
// assigned traffic uses the treatment breaker and is labelled like header-dyed traffic.

import assert from 'node:assert/strict';
import { assignGroup, canaryBucket, groupFromHeader } from '../src/canary.js';
import { deadLetters, MODEL, mlpBody, startHarness, validLogLines, type Harness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { loadMlpPredictor } from './helpers/predictors.js';

describe('canary assignment (unit)', () => {
  const subjects = Array.from({ length: 20000 }, (_, i) => `user-${i}@example.com`);
  it('spreads callers at the configured percent (within tolerance)', () => {
    for (const p of [1, 10, 25, 50, 90]) {
      const share = subjects.filter((s) => assignGroup(s, p) === 'treatment').length / subjects.length;
      assert.ok(Math.abs(share - p / 100) < 0.015, `percent ${p}: share ${share}`);
    }
  });
  it('is sticky per caller and monotone in the percent', () => {
    for (const s of subjects.slice(0, 500)) {
      assert.equal(assignGroup(s, 30), assignGroup(s, 30));
      // A caller in treatment at 30 % stays in treatment at any higher percent.
      if (assignGroup(s, 30) === 'treatment') assert.equal(assignGroup(s, 31), 'treatment');
      assert.ok(canaryBucket(s) >= 0 && canaryBucket(s) < 10000);
    }
  });
  it('0 % and unset -> control, 100 % -> treatment', () => {
    for (const s of subjects.slice(0, 200)) {
      assert.equal(assignGroup(s, 0), 'control');
      assert.equal(assignGroup(s, undefined), 'control');
      assert.equal(assignGroup(s, 100), 'treatment');
    }
  });
  it('reads the header case-insensitively; unknown values count as absent', () => {
    assert.equal(groupFromHeader('treatment'), 'treatment');
    assert.equal(groupFromHeader('Control'), 'control');
    assert.equal(groupFromHeader('TREATMENT'), 'treatment');
    assert.equal(groupFromHeader('beta'), undefined);
    assert.equal(groupFromHeader(undefined), undefined);
  });
});

describe('canary assignment in the sidecar', function () {
  this.timeout(120000);
  let h: Harness;
  before(async () => {
    h = await startHarness({ predictor: await loadMlpPredictor(), tls: 'none', config: { canary: { treatmentPercent: 100 } } });
  });
  after(async () => {
    await h.close();
    assert.deepEqual(deadLetters, []);
  });
  const predict = async (sub: string, headers: Record<string, string> = {}) =>
    request(`${h.url}/v2/models/${MODEL}/infer`, { body: mlpBody(1), headers: { authorization: `Bearer ${await h.token('model_inference', { sub })}`, ...headers } });
  const setPercent = async (treatmentPercent: number): Promise<void> => {
    const c = h.sidecar.config();
    await h.sidecar.applyConfig({ ...c, canary: { ...c.canary, treatmentPercent } });
  };

  it('assigned traffic is labelled treatment (header, access log, audit) and uses the treatment breaker', async () => {
    const r = await predict('canary-a', { 'x-request-id': 'canary-a-1' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-test-group'], 'treatment');
    const access = validLogLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.request_id === 'canary-a-1');
    assert.equal(access?.test_group, 'treatment');
    assert.equal(h.audits.at(-1)?.group, 'treatment');
    // An open treatment breaker refuses assigned traffic; control traffic still flows.
    // (It stays open for the rest of this file; the next test looks at headers only.)
    h.sidecar.breakers.treatment.trip('test');
    const refused = await predict('canary-a');
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal(refused.headers['x-test-group'], 'treatment');
    const explicit = await predict('canary-a', { 'x-test-group': 'control' });
    assert.equal(explicit.status, 200, 'an explicit header wins over the assignment');
    assert.equal(explicit.headers['x-test-group'], 'control');
  });

  it('a reloaded percent applies to the next request; callers stay in their group', async () => {
    await setPercent(0);
    assert.equal((await predict('canary-b')).headers['x-test-group'], 'control');
    assert.equal((await predict('canary-b', { 'x-test-group': 'treatment' })).headers['x-test-group'], 'treatment');
    await setPercent(50);
    const groups = new Map<string, string>();
    for (let i = 0; i < 24; i++) {
      const sub = `canary-sub-${i}`;
      const g = String((await predict(sub)).headers['x-test-group']);
      groups.set(sub, g);
      assert.equal(g, assignGroup(sub, 50));
    }
    const treated = [...groups.values()].filter((g) => g === 'treatment').length;
    assert.ok(treated > 0 && treated < 24, `both groups present at 50 % (${treated}/24)`);
    for (const [sub, g] of [...groups].slice(0, 6)) assert.equal((await predict(sub)).headers['x-test-group'], g, 'sticky');
  });
});
