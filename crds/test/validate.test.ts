import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validatePaddleService, formatValidationErrors } from '../src/index.js';
import { EXAMPLES_DIR, invalidExamples, loadYamlDocs } from './helpers.js';

function paddleServiceDocs(file: string): unknown[] {
  return loadYamlDocs(file).filter((d) => (d as { kind?: string }).kind === 'PaddleService');
}

describe('PaddleService validator', () => {
  const validFiles = readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(EXAMPLES_DIR, f));

  it('finds the examples', () => {
    assert.ok(validFiles.some((f) => f.endsWith('minimal.yaml')));
    assert.ok(validFiles.some((f) => f.endsWith('gpu.yaml')));
  });

  for (const file of ['minimal.yaml', 'gpu.yaml']) {
    it(`accepts examples/${file}`, () => {
      const docs = paddleServiceDocs(join(EXAMPLES_DIR, file));
      assert.equal(docs.length, 1);
      const result = validatePaddleService(docs[0]);
      assert.deepEqual(result.errors, [], formatValidationErrors(result.errors));
      assert.equal(result.valid, true);
    });
  }

  const invalid = invalidExamples();
  it('has one invalid example per rule', () => {
    assert.ok(invalid.length >= 9, `only ${invalid.length} invalid examples`);
  });
  for (const example of invalid) {
    it(`rejects invalid/${example.file} with "${example.expect}"`, () => {
      const result = validatePaddleService(example.doc);
      assert.equal(result.valid, false);
      const messages = result.errors.map((e) => e.message);
      assert.ok(messages.includes(example.expect), `expected "${example.expect}", got: ${formatValidationErrors(result.errors)}`);
    });
  }

  it('names the field path of schema errors', () => {
    const doc = paddleServiceDocs(join(EXAMPLES_DIR, 'minimal.yaml'))[0] as { spec: Record<string, unknown> };
    const bad = structuredClone(doc);
    bad.spec.runtime = { cpuThreads: 0, backend: 'tensorrt', bogus: true };
    (bad.spec.model as Record<string, unknown>).name = '../etc/passwd';
    const errors = validatePaddleService(bad).errors;
    const byPath = new Map(errors.map((e) => [e.path, e.message]));
    assert.match(byPath.get('spec.runtime.cpuThreads') ?? '', />= 1/);
    assert.match(byPath.get('spec.runtime.backend') ?? '', /must be one of "builtin", "paddle"/);
    assert.equal(byPath.get('spec.runtime.bogus'), 'unknown field "bogus"');
    assert.match(byPath.get('spec.model.name') ?? '', /must match pattern/);
  });

  it('names array indices in CEL error paths', () => {
    const doc = structuredClone(paddleServiceDocs(join(EXAMPLES_DIR, 'minimal.yaml'))[0]) as { spec: Record<string, unknown> };
    (doc.spec.auth as Record<string, unknown>).policies = [
      { path: '/v2/models/{model}/infer', domain: 'model_inference', callsPerMinute: 60 },
      { path: '/v1/predict', domain: 'model_inference', callsPerMinute: 60 },
      { path: '/v1/encrypt_input', domain: 'data_protection', callsPerMinute: 20 },
      { path: '/v1/export_model', domain: 'model_admin', callsPerMinute: 5 },
      { path: 'export', domain: 'model_admin', callsPerMinute: 5 },
    ];
    const errors = validatePaddleService(doc).errors;
    assert.deepEqual(errors, [{ path: 'spec.auth.policies[4]', message: "auth.policies[].path must start with '/'" }]);
  });

  it('reports a missing spec and a missing model', () => {
    const noSpec = validatePaddleService({ apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService', metadata: { name: 'x' } });
    assert.deepEqual(noSpec.errors, [{ path: 'spec', message: 'required field is missing' }]);
    const noModel = validatePaddleService({ apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService', metadata: { name: 'x' }, spec: { tls: { enabled: false }, auth: { enabled: false } } });
    assert.ok(noModel.errors.some((e) => e.path === 'spec.model' && e.message === 'required field is missing'), formatValidationErrors(noModel.errors));
  });

  it('never throws on arbitrary input (random mutation fuzz)', () => {
    const seed = paddleServiceDocs(join(EXAMPLES_DIR, 'gpu.yaml'))[0];
    const junk: unknown[] = [null, 0, -1, 1e308, '', '*', '../..', true, [], {}, [1, 'a'], { a: { b: null } }, 'x'.repeat(5000)];
    let state = 12345;
    const rand = (n: number): number => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state % n;
    };
    const paths: string[][] = [];
    const walk = (v: unknown, at: string[]): void => {
      paths.push(at);
      if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...at, k]);
    };
    walk(seed, []);
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const doc = structuredClone(seed) as Record<string, unknown>;
      for (let m = 0; m <= rand(3); m++) {
        const path = paths[rand(paths.length)] ?? [];
        if (path.length === 0) continue;
        let parent: Record<string, unknown> = doc;
        for (const seg of path.slice(0, -1)) parent = (parent[seg] ?? {}) as Record<string, unknown>;
        if (parent && typeof parent === 'object') parent[path[path.length - 1] as string] = structuredClone(junk[rand(junk.length)]);
      }
      const result = validatePaddleService(doc);
      assert.equal(result.valid, result.errors.length === 0);
      for (const e of result.errors) assert.ok(e.message.length > 0 && typeof e.path === 'string');
      if (!result.valid) rejected++;
    }
    assert.ok(rejected > 1000, `only ${rejected} of 2000 mutations were rejected`);
  });
});
