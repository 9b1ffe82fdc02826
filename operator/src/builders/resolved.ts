// The spec after the CRD's defaults are applied (crds/src/defaults.ts). Builders read every
// defaulted field through `must`, so a default missing from the CRD is a loud InvalidSpecError
// naming the field, never a silent second default hidden in the operator.

import { applyDefaults, type PaddleService, type PaddleServiceSpec } from '../../../crds/src/index.js';
import { InvalidSpecError } from '../errors.js';

export function must<T>(value: T | undefined | null, path: string): T {
  if (value === undefined || value === null) throw new InvalidSpecError(`${path} is required (no default applied)`);
  return value;
}

/** A PaddleService whose spec has every CRD default filled in. */
export interface ResolvedPaddleService extends PaddleService {
  spec: PaddleServiceSpec;
}

export function resolvePaddleService(ps: PaddleService): ResolvedPaddleService {
  return { ...ps, spec: applyDefaults(ps.spec) };
}
