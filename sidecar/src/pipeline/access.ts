// Stages 3-5 in their order for one guarded call: authn (authn.ts) -> authz (authz.ts) -> rate
// limit (rate-limit.ts), then the canary group of a caller without an X-Test-Group header is
// re-assigned by its verified subject. Synchronous when the token was verified before (the usual
// case); a promise only when its signature must be checked.

import type { Principal } from '../auth.js';
import { assignGroup } from '../canary.js';
import type { SidecarConfig } from '../config.js';
import type { Authn } from './authn.js';
import type { Authz, Policy } from './authz.js';
import type { Call } from './call.js';
import type { RateGate } from './rate-limit.js';

export class Access {
  constructor(
    private readonly authn: Authn,
    private readonly authz: Authz,
    private readonly rate: RateGate,
    private readonly config: () => SidecarConfig,
  ) {}

  /** `connection`: an object that lives as long as the caller's connection (token cache per connection). */
  authorize(call: Call, policyPath: string, authorization: string | undefined, connection: object | undefined, remoteAddress: string | undefined): void | Promise<void> {
    call.policyPath = policyPath;
    const policy = this.authz.policyFor(policyPath);
    call.domain = policy.domain;
    const p = this.authn.principal(authorization, connection, remoteAddress, policy.domain);
    if (p instanceof Promise) return p.then((principal) => this.admit(call, policy, principal));
    this.admit(call, policy, p);
  }

  private admit(call: Call, policy: Policy, principal: Principal): void {
    call.principal = principal;
    const config = this.config();
    this.authz.check(principal, policy, this.authn.enabled);
    this.rate.take(principal.subject, policy, config.auth.rateShare ?? 1);
    const span = call.span;
    if (span.isRecording()) span.setAttributes({ 'enduser.id': principal.subject, 'paddle.domain': policy.domain });
    if (call.groupAssigned) {
      const group = assignGroup(principal.subject, config.canary.treatmentPercent);
      if (group !== call.group) {
        call.group = group;
        span.setAttribute('paddle.test_group', group);
      }
    }
  }
}
