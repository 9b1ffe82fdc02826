// RBAC arithmetic for the chart's tests: flattening rules into (group, resource, verb) triples
// and deciding whether a set of rules allows a request, the way the RBAC authorizer does.

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface Permission {
  group: string;
  /** "plural" or "plural/subresource". */
  resource: string;
  verb: string;
  /** Set when the rule is narrowed to named objects. */
  names?: string[];
}

export const key = (p: { group: string; resource: string; verb: string }): string => `${p.group || 'core'}:${p.resource}:${p.verb}`;

export function flatten(rules: PolicyRule[]): Permission[] {
  const out: Permission[] = [];
  for (const r of rules) {
    for (const group of r.apiGroups ?? ['']) {
      for (const resource of r.resources ?? []) {
        for (const verb of r.verbs) out.push({ group, resource, verb, ...(r.resourceNames ? { names: r.resourceNames } : {}) });
      }
    }
  }
  return out;
}

/** Whether `rules` allow `verb` on group/resource (and object `name`, when given). */
export function allows(rules: PolicyRule[], want: { group: string; resource: string; verb: string; name?: string }): boolean {
  return rules.some((r) => {
    const groups = r.apiGroups ?? [''];
    if (!groups.includes('*') && !groups.includes(want.group)) return false;
    const resources = r.resources ?? [];
    if (!resources.includes('*') && !resources.includes(want.resource)) return false;
    if (!r.verbs.includes('*') && !r.verbs.includes(want.verb)) return false;
    if (r.resourceNames && r.resourceNames.length > 0) return want.name !== undefined && r.resourceNames.includes(want.name);
    return true;
  });
}
