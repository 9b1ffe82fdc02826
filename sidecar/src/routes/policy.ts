// The policy table of the serving port's protected routes (SIDECAR_ROUTES in the pod contract):
// route path -> its policy, built once per config. Default-deny lives in three places that share
// checkPolicyCoverage (the config loader here, the operator's validator, the CRD's CEL), so a
// config reaching this table names a policy for every protected route and none for anything else.

import { PROTECTED_PATHS, type SidecarConfig } from '../../../crds/src/pod-contract.js';

export type Policy = SidecarConfig['auth']['policies'][number];

/** Protected route path -> policy (only the protected routes; a dead policy never gets here). */
export function policyTable(policies: readonly Policy[]): Map<string, Policy> {
  const table = new Map<string, Policy>();
  for (const p of policies) if (PROTECTED_PATHS.includes(p.path)) table.set(p.path, p);
  return table;
}
