// PaddleServices for the operator's unit tests: the lead's examples, given the metadata the API
// server would add, and the CRD defaults applied.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import type { PaddleService } from '../../crds/src/index.js';
import { resolvePaddleService } from '../src/builders/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function loadExample(file: string, overrides: { namespace?: string; uid?: string; generation?: number } = {}): PaddleService {
  const raw = load(readFileSync(`${ROOT}examples/${file}`, 'utf8')) as PaddleService;
  raw.metadata = {
    ...raw.metadata,
    namespace: overrides.namespace ?? 'ml',
    uid: overrides.uid ?? '0b3c6f0e-1111-4c3a-9d7e-6a1f1d2e3f40',
    generation: overrides.generation ?? 1,
  };
  return resolvePaddleService(raw);
}

/** A deep copy with `mutate` applied to the raw (un-defaulted) spec, then defaults applied. */
export function variant(file: string, mutate: (ps: PaddleService) => void): PaddleService {
  const raw = load(readFileSync(`${ROOT}examples/${file}`, 'utf8')) as PaddleService;
  raw.metadata = { ...raw.metadata, namespace: 'ml', uid: 'u-1', generation: 1 };
  mutate(raw);
  return resolvePaddleService(raw);
}
