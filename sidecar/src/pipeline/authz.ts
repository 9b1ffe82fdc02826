// Stage 4, authz: what the caller may do. Every protected route (SIDECAR_ROUTES in the pod
// contract) is guarded by the policy spelled as the table spells it; the config loader, the
// operator's validator and the CRD's CEL (checkPolicyCoverage) refuse a config that leaves one
// out, so a missing policy here is a bug and is refused (403, default-deny) rather than served
// unguarded. With auth on, the token's scope must carry the policy's domain (403 otherwise).

import { PROTECTED_PATHS } from '../../../crds/src/pod-contract.js';
import type { Principal } from '../auth.js';
import type { SidecarConfig } from '../config.js';
import { SidecarError } from '../errors.js';

export type Policy = SidecarConfig['auth']['policies'][number];

/** Protected route path -> policy (only the protected routes; a dead policy never gets here). */
export function policyTable(policies: readonly Policy[]): Map<string, Policy> {
  const table = new Map<string, Policy>();
  for (const p of policies) if (PROTECTED_PATHS.includes(p.path)) table.set(p.path, p);
  return table;
}

export class Authz {
  private table: Map<string, Policy>;

  constructor(policies: readonly Policy[]) {
    this.table = policyTable(policies);
  }

  setPolicies(policies: readonly Policy[]): void {
    this.table = policyTable(policies);
  }

  /** The policy guarding `path`; 403 when there is none (default-deny). */
  policyFor(path: string): Policy {
    const policy = this.table.get(path);
    if (!policy) throw new SidecarError('forbidden', `no policy guards ${path}: refused (default-deny)`);
    return policy;
  }

  /** 403 when the (token-verified) principal lacks the policy's domain; `enforced` false: auth off. */
  check(principal: Principal, policy: Policy, enforced: boolean): void {
    if (enforced && !principal.domains.has(policy.domain)) throw new SidecarError('forbidden', 'insufficient permissions');
  }
}
