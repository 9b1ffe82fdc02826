// Validates a PaddleService against the CRD's own openAPIV3Schema (compiled with ajv) and the
// CEL rules (crds/src/cel-rules.ts), after applying the CRD defaults, as the API server does.
// Unknown fields are errors (kubectl's strict field validation) instead of being pruned.
// Errors name the field path, e.g. `spec.runtime.cpuThreads: must be >= 1`.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { applySchemaDefaults } from './defaults.js';
import { CEL_RULES, valuesAt } from './cel-rules.js';
import { paddleServiceSchema, type SchemaNode } from './schema.js';
import type { PaddleService } from './types.js';

export interface ValidationError {
  /** Dotted field path, with array indices in brackets: spec.auth.policies[1].path */
  path: string;
  message: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: ValidationError[];
  /** The object with defaults applied (what the API server would store). */
  value: PaddleService;
}

const K8S_KEYWORDS = [
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-map-type',
];

/** Copy of the schema with `additionalProperties: false` wherever the API server would prune. */
function strictCopy(node: SchemaNode): SchemaNode {
  const out: SchemaNode = { ...node };
  if (node.properties) {
    out.properties = Object.fromEntries(Object.entries(node.properties).map(([k, v]) => [k, strictCopy(v)]));
    if (node.additionalProperties === undefined && !node['x-kubernetes-preserve-unknown-fields']) {
      out.additionalProperties = false;
    }
  }
  if (node.items) out.items = strictCopy(node.items);
  if (typeof node.additionalProperties === 'object') out.additionalProperties = strictCopy(node.additionalProperties);
  // metadata is validated by the API server itself, not by our schema.
  if (node.type === 'object' && !node.properties && node.additionalProperties === undefined) {
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

function formatPath(segments: readonly string[]): string {
  let out = '';
  for (const segment of segments) {
    if (/^[0-9]+$/.test(segment)) out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}

function describeAjvError(error: ErrorObject): ValidationError {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  switch (error.keyword) {
    case 'additionalProperties': {
      const field = (error.params as { additionalProperty: string }).additionalProperty;
      return { path: formatPath([...segments, field]), message: `unknown field "${field}"` };
    }
    case 'required': {
      const field = (error.params as { missingProperty: string }).missingProperty;
      return { path: formatPath([...segments, field]), message: 'required field is missing' };
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      return { path: formatPath(segments), message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}` };
    }
    default:
      return { path: formatPath(segments), message: error.message ?? `failed ${error.keyword}` };
  }
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strictTypes: false, strictRequired: false });
    const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv;
    addFormats(ajv);
    ajv.addVocabulary(K8S_KEYWORDS);
    ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
    ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
    compiled = ajv.compile(strictCopy(paddleServiceSchema()));
  }
  return compiled;
}

/** Runs the re-expressed CEL rules over a defaulted object. */
export function checkCelRules(obj: unknown): ValidationError[] {
  const errors: ValidationError[] = [];
  for (const celRule of CEL_RULES) {
    for (const { path, value } of valuesAt(obj, celRule.path)) {
      let ok: boolean;
      try {
        ok = celRule.check(value as never);
      } catch {
        continue; // a type error is reported by the schema check already
      }
      if (!ok) errors.push({ path: formatPath(path), message: celRule.message });
    }
  }
  return errors;
}

/** Validates a whole PaddleService object (apiVersion, kind, metadata, spec[, status]). */
export function validatePaddleService(input: unknown): ValidationResult {
  const value = applySchemaDefaults(input, paddleServiceSchema()) as PaddleService;
  const validate = validator();
  const schemaOk = validate(value);
  const errors: ValidationError[] = schemaOk ? [] : (validate.errors ?? []).map(describeAjvError);
  errors.push(...checkCelRules(value));
  const seen = new Set<string>();
  const unique = errors.filter((e) => {
    const key = `${e.path}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { valid: unique.length === 0, errors: unique, value };
}

/** One line per error, for logs, Events and condition messages. */
export function formatValidationErrors(errors: readonly ValidationError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('; ');
}
