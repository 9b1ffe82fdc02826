// Applies the schema defaults of the CRD the way the API server's structural defaulting does:
// a missing (or null) property with a `default` gets a deep copy of it, then defaulting
// recurses into every present property, array item and map value, so defaults nested inside
// a defaulted `{}` are filled too. Reading the defaults from the CRD keeps one source of truth.

import type { PaddleService, PaddleServiceSpec } from './types.js';
import { paddleServiceSchema, type SchemaNode } from './schema.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns a defaulted deep copy of `value` under `schema`; the input is not modified. */
export function applySchemaDefaults(value: unknown, schema: SchemaNode): unknown {
  if (Array.isArray(value)) {
    const items = schema.items;
    return items ? value.map((item) => applySchemaDefaults(item, items)) : structuredClone(value);
  }
  if (!isPlainObject(value)) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) out[key] = child;
  if (schema.properties) {
    for (const [key, childSchema] of Object.entries(schema.properties)) {
      if ((out[key] === undefined || out[key] === null) && childSchema.default !== undefined) {
        out[key] = structuredClone(childSchema.default);
      }
      if (out[key] !== undefined) out[key] = applySchemaDefaults(out[key], childSchema);
    }
  }
  const additional = schema.additionalProperties;
  if (typeof additional === 'object') {
    for (const key of Object.keys(out)) {
      if (!schema.properties?.[key]) out[key] = applySchemaDefaults(out[key], additional);
    }
  }
  return out;
}

/** The spec with every CRD default filled in. */
export function applyDefaults(spec: PaddleServiceSpec): PaddleServiceSpec {
  const specSchema = paddleServiceSchema().properties?.spec;
  if (!specSchema) throw new Error('PaddleService CRD schema has no spec');
  return applySchemaDefaults(spec, specSchema) as PaddleServiceSpec;
}

/** The whole object with spec defaults filled in (metadata and status untouched). */
export function withDefaults(ps: PaddleService): PaddleService {
  return { ...ps, spec: applyDefaults(ps.spec) };
}
