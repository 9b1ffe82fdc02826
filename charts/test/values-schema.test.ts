// values.yaml and values.schema.json describe the same keys; every value is documented; the
// schema is strict and helm enforces it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import * as yaml from 'js-yaml';
import { ALL_OPTIONS_VALUES, CHART_DIR, helm, kubeVersion, readJson } from './lib/chart.js';
import { commentAbove, keyPaths, uncommentOptionalKeys } from './lib/values-file.js';

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  required?: string[];
  [key: string]: unknown;
}

const valuesText = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8');
const schema = readJson(join(CHART_DIR, 'values.schema.json')) as SchemaNode;
const defaults = yaml.load(valuesText) as Record<string, unknown>;
const withOptional = uncommentOptionalKeys(valuesText);
const full = yaml.load(withOptional.text) as Record<string, unknown>;
const allOptions = yaml.load(readFileSync(ALL_OPTIONS_VALUES, 'utf8')) as Record<string, unknown>;

/** Dotted paths of the schema's declared properties, and whether each is a structural parent. */
function schemaPaths(node: SchemaNode, prefix = ''): Map<string, SchemaNode> {
  const out = new Map<string, SchemaNode>();
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    out.set(path, child);
    for (const [p, n] of schemaPaths(child, path)) out.set(p, n);
  }
  return out;
}

/** Dotted paths of a values object, entering only the objects the schema declares properties for. */
function valuePaths(value: unknown, node: SchemaNode, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !node.properties) return [];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    out.push(path);
    const childNode = node.properties[key];
    if (childNode) out.push(...valuePaths(child, childNode, path));
  }
  return out;
}

const declared = schemaPaths(schema);
const isParent = (path: string): boolean => Boolean(declared.get(path)?.properties);
const leaves = [...declared.keys()].filter((p) => !isParent(p));

describe('chart values.yaml and values.schema.json', () => {
  it('the schema is strict: every object with declared properties refuses unknown keys', () => {
    assert.equal(schema.additionalProperties, false, 'root');
    for (const [path, node] of declared) {
      if (node.properties) assert.equal(node.additionalProperties, false, `${path}: additionalProperties must be false`);
    }
  });

  it('every key of values.yaml (optional ones included) is in the schema, and every schema key is in values.yaml', () => {
    const inValues = new Set(valuePaths(full, schema));
    const inSchema = new Set(declared.keys());
    const missingFromSchema = [...inValues].filter((p) => !inSchema.has(p));
    const missingFromValues = [...inSchema].filter((p) => !inValues.has(p));
    assert.deepEqual(missingFromSchema, [], 'keys in values.yaml that values.schema.json does not declare');
    assert.deepEqual(missingFromValues, [], 'keys in values.schema.json that values.yaml does not show');
  });

  it('every value is documented by a "# --" comment right above it', () => {
    const undocumented: string[] = [];
    for (const { path, line } of keyPaths(withOptional.text)) {
      if (!declared.has(path) || isParent(path)) continue;
      const doc = commentAbove(withOptional.text, line);
      if (!doc.some((l) => l.startsWith('# --'))) undocumented.push(`${path} (line ${line + 1})`);
    }
    assert.deepEqual(undocumented, []);
  });

  it('optional keys are commented out with their default, and the schema does not require them', () => {
    assert.ok(withOptional.optional.length >= 5, `expected the optional keys to be found, got ${withOptional.optional.join(', ')}`);
    for (const path of withOptional.optional) {
      const parts = path.split('.');
      let v: unknown = defaults;
      for (const part of parts) v = (v as Record<string, unknown> | undefined)?.[part];
      assert.equal(v, undefined, `${path} is optional, so values.yaml must show it commented out`);
      let parent: SchemaNode | undefined = schema;
      for (const part of parts.slice(0, -1)) parent = parent?.properties?.[part];
      assert.ok(!(parent?.required ?? []).includes(parts[parts.length - 1] as string), `${path} is optional but the schema requires it`);
    }
  });

  it('the defaults, the defaults with every optional key uncommented, and the all-options file pass the schema', () => {
    const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
    for (const [name, values] of [['values.yaml', defaults], ['values.yaml with optional keys', full], ['all-options.yaml', allOptions]] as const) {
      assert.ok(validate(values), `${name}: ${JSON.stringify(validate.errors, null, 2)}`);
    }
  });

  it('the all-options file sets every value the schema declares', () => {
    const set = new Set(valuePaths(allOptions, schema));
    assert.deepEqual(leaves.filter((p) => !set.has(p)), []);
  });

  it('helm refuses an unknown key and a value of the wrong type (schema enforced by helm itself)', () => {
    const typo = helm(['template', 'x', CHART_DIR, '--kube-version', kubeVersion(), '--set', 'replicaCont=2']);
    assert.notEqual(typo.code, 0, 'an unknown top-level key must fail');
    assert.match(typo.stderr, /replicaCont/);
    const nested = helm(['template', 'x', CHART_DIR, '--kube-version', kubeVersion(), '--set', 'metrics.prometheusRule.highErrorRate.treshold=0.1']);
    assert.notEqual(nested.code, 0, 'an unknown nested key must fail');
    assert.match(nested.stderr, /treshold/);
    const wrongType = helm(['template', 'x', CHART_DIR, '--kube-version', kubeVersion(), '--set-string', 'replicaCount=two']);
    assert.notEqual(wrongType.code, 0, 'a string replica count must fail');
    assert.match(wrongType.stderr, /replicaCount/);
  });
});
