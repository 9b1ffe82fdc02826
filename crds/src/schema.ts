// Loads the PaddleService CRD from crds/ so every consumer (defaults, validator, operator,
// chart tests) reads the one schema the API server enforces. No second copy is kept.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { load } from 'js-yaml';

export const CRD_FILE_NAME = 'serving.paddle.io_paddleservices.yaml';

/** A JSON-schema node as it appears in a CRD's openAPIV3Schema (the subset we read). */
export interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  enum?: unknown[];
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  [keyword: string]: unknown;
}

export interface CustomResourceDefinition {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: Record<string, unknown>;
      additionalPrinterColumns?: { name: string; type: string; jsonPath: string; priority?: number; description?: string }[];
      schema: { openAPIV3Schema: SchemaNode };
    }[];
  };
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Where the CRD file is: beside src/ in the repo, or copied next to the compiled output
 * (dist/crds/, a sibling of the bundled operator's dist/operator/ too).
 */
export function crdPath(): string {
  const candidates = [join(here, '..', CRD_FILE_NAME), join(here, '..', '..', '..', 'crds', CRD_FILE_NAME), join(here, '..', 'crds', CRD_FILE_NAME)];
  for (const candidate of candidates) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`PaddleService CRD not found; looked in: ${candidates.join(', ')}`);
}

let cached: CustomResourceDefinition | undefined;

export function loadCrd(): CustomResourceDefinition {
  if (!cached) {
    const doc = load(readFileSync(crdPath(), 'utf8')) as CustomResourceDefinition;
    if (doc?.kind !== 'CustomResourceDefinition') throw new Error(`${crdPath()} is not a CustomResourceDefinition`);
    cached = doc;
  }
  return cached;
}

/** The openAPIV3Schema of the served version (v1alpha1). */
export function paddleServiceSchema(): SchemaNode {
  const version = loadCrd().spec.versions.find((v) => v.storage);
  if (!version) throw new Error('PaddleService CRD has no storage version');
  return version.schema.openAPIV3Schema;
}
