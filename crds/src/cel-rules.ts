// The CRD's CEL rules (x-kubernetes-validations), re-expressed once in TypeScript so the
// operator can run them without an API server. Each entry carries the rule text and message
// exactly as the CRD has them; crds/test/cel-rules.test.ts fails when the CRD gains, loses or
// changes a rule without this table following, and runs every example through both.

import { PROTECTED_PATHS } from './pod-contract.js';

/** A property path inside the spec; `*` stands for every array item or map value. */
export type RulePath = readonly string[];

export interface CelRule {
  path: RulePath;
  rule: string;
  message: string;
  /** Returns true when `self` (the value at `path`, defaults applied) satisfies the rule. */
  check: (self: never) => boolean;
}

type Obj = Record<string, unknown>;
const has = (o: Obj, key: string): boolean => o[key] !== undefined && o[key] !== null;

function rule<T>(path: RulePath, text: string, message: string, check: (self: T) => boolean): CelRule {
  return { path, rule: text, message, check: check as (self: never) => boolean };
}

/** One rule per protected route: the policies list must name it (default-deny). */
const coverageRules: CelRule[] = PROTECTED_PATHS.map((path) =>
  rule<Obj[]>(
    ['spec', 'auth', 'policies'],
    `self.exists(p, p.path == '${path}')`,
    `auth.policies has no policy for ${path}: every inference and admin route needs one (default-deny)`,
    (self) => self.some((p) => p.path === path),
  ),
);

/** The kinds of spec.model.source, exactly one of which is set. */
export const MODEL_SOURCES = ['pvc', 'image', 'configMap', 's3', 'https'] as const;

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;

export const CEL_RULES: readonly CelRule[] = [
  rule<Obj>(
    ['spec'],
    "!has(self.runtime) || !has(self.runtime.device) || self.runtime.device != 'gpu' || (has(self.resources) && has(self.resources.gpu) && has(self.resources.gpu.count) && self.resources.gpu.count >= 1)",
    'runtime.device is gpu, so resources.gpu.count must be at least 1',
    (self) => {
      const runtime = self.runtime as Obj | undefined;
      if (!runtime || runtime.device !== 'gpu') return true;
      const gpu = (self.resources as Obj | undefined)?.gpu as Obj | undefined;
      return typeof gpu?.count === 'number' && gpu.count >= 1;
    },
  ),
  rule<Obj>(
    ['spec'],
    "!has(self.runtime) || !has(self.runtime.device) || self.runtime.device != 'gpu' || (has(self.runtime.backend) && self.runtime.backend == 'paddle')",
    'runtime.device is gpu, so runtime.backend must be paddle (the builtin executor runs on CPU only)',
    (self) => {
      const runtime = self.runtime as Obj | undefined;
      return !runtime || runtime.device !== 'gpu' || runtime.backend === 'paddle';
    },
  ),
  rule<Obj>(
    ['spec', 'model', 'source'],
    '(has(self.pvc) ? 1 : 0) + (has(self.image) ? 1 : 0) + (has(self.configMap) ? 1 : 0) + (has(self.s3) ? 1 : 0) + (has(self.https) ? 1 : 0) == 1',
    'model.source must set exactly one of pvc, image, configMap, s3 or https',
    (self) => MODEL_SOURCES.filter((k) => has(self, k)).length === 1,
  ),
  rule<string>(
    ['spec', 'model', 'source', 'pvc', 'subPath'],
    "!self.split('/').exists(p, p == '..')",
    "model.source.pvc.subPath must not contain '..'",
    (self) => !self.split('/').includes('..'),
  ),
  rule<string>(
    ['spec', 'model', 'source', 's3', 'prefix'],
    "!self.split('/').exists(p, p == '..')",
    "model.source.s3.prefix must not contain '..'",
    (self) => !self.split('/').includes('..'),
  ),
  rule<Obj>(
    ['spec', 'model', 'verification'],
    '!has(self.required) || !self.required || has(self.publicKeySecretRef)',
    'model.verification.required is true, so model.verification.publicKeySecretRef must name the Secret holding the public key',
    (self) => self.required !== true || has(self, 'publicKeySecretRef'),
  ),
  rule<Obj>(
    ['spec', 'autoscaling'],
    '!has(self.minReplicas) || self.minReplicas <= self.maxReplicas',
    'autoscaling.minReplicas must not be greater than autoscaling.maxReplicas',
    (self) => !has(self, 'minReplicas') || (self.minReplicas as number) <= (self.maxReplicas as number),
  ),
  rule<Obj>(
    ['spec', 'tls'],
    '!has(self.enabled) || !self.enabled || has(self.issuerRef)',
    'tls.enabled is true, so tls.issuerRef must name a cert-manager Issuer or ClusterIssuer',
    (self) => self.enabled !== true || has(self, 'issuerRef'),
  ),
  rule<Obj>(
    ['spec', 'tls'],
    '!has(self.mutual) || !self.mutual || !has(self.enabled) || self.enabled',
    'tls.mutual needs tls.enabled',
    (self) => self.mutual !== true || !has(self, 'enabled') || self.enabled === true,
  ),
  rule<Obj>(
    ['spec', 'auth'],
    '!has(self.enabled) || !self.enabled || has(self.jwksSecretRef) != has(self.hmacSecretRef)',
    'auth.enabled is true, so set exactly one of auth.jwksSecretRef or auth.hmacSecretRef',
    (self) => self.enabled !== true || has(self, 'jwksSecretRef') !== has(self, 'hmacSecretRef'),
  ),
  rule<Obj[]>(
    ['spec', 'auth', 'policies'],
    'self.all(p, self.exists_one(q, q.path == p.path))',
    'auth.policies must not list the same path twice',
    (self) => new Set(self.map((p) => p.path)).size === self.length,
  ),
  ...coverageRules,
  rule<Obj>(
    ['spec', 'auth', 'policies', '*'],
    "self.path.startsWith('/')",
    "auth.policies[].path must start with '/'",
    (self) => String(self.path).startsWith('/'),
  ),
  rule<Obj>(
    ['spec', 'auth', 'policies', '*'],
    `!self.path.startsWith('/') || self.path in [${PROTECTED_PATHS.map((p) => `'${p}'`).join(', ')}]`,
    `auth.policies[].path must name a protected route of the sidecar (${PROTECTED_PATHS.join(', ')}): the policy would guard nothing`,
    (self) => !String(self.path).startsWith('/') || PROTECTED_PATHS.includes(String(self.path)),
  ),
  rule<Obj>(
    ['spec', 'auth', 'policies', '*'],
    'self.callsPerMinute > 0',
    'auth.policies[].callsPerMinute must be greater than 0',
    (self) => (self.callsPerMinute as number) > 0,
  ),
  rule<string[]>(
    ['spec', 'cors', 'allowedOrigins'],
    "self.all(o, !o.contains('*'))",
    "cors.allowedOrigins must list explicit origins; '*' is never allowed",
    (self) => self.every((o) => !o.includes('*')),
  ),
  rule<string[]>(
    ['spec', 'cors', 'allowedOrigins'],
    "self.all(o, o.contains('*') || o.matches('^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$'))",
    'each cors.allowedOrigins entry must be scheme://host[:port] with no path',
    (self) => self.every((o) => o.includes('*') || ORIGIN.test(o)),
  ),
  rule<Obj>(
    ['spec', 'breaker'],
    '!has(self.latencyMultiplier) || self.latencyMultiplier > 1.0',
    'breaker.latencyMultiplier must be greater than 1',
    (self) => !has(self, 'latencyMultiplier') || (self.latencyMultiplier as number) > 1,
  ),
  rule<Obj>(
    ['spec', 'breaker'],
    '!has(self.treatmentFailureThreshold) || !has(self.failureThreshold) || self.treatmentFailureThreshold <= self.failureThreshold',
    "breaker.treatmentFailureThreshold must not be greater than breaker.failureThreshold (the treatment group's breaker is the stricter one)",
    (self) =>
      !has(self, 'treatmentFailureThreshold') || !has(self, 'failureThreshold') || (self.treatmentFailureThreshold as number) <= (self.failureThreshold as number),
  ),
  rule<Obj>(
    ['spec', 'breaker', 'recovery'],
    '!has(self.initialDelaySeconds) || !has(self.maxDelaySeconds) || self.initialDelaySeconds <= self.maxDelaySeconds',
    'breaker.recovery.initialDelaySeconds must not be greater than maxDelaySeconds',
    (self) => !has(self, 'initialDelaySeconds') || !has(self, 'maxDelaySeconds') || (self.initialDelaySeconds as number) <= (self.maxDelaySeconds as number),
  ),
  rule<Obj>(
    ['spec', 'breaker', 'recovery'],
    '!has(self.passLatencyMs) || !has(self.probeTimeoutMs) || self.passLatencyMs <= self.probeTimeoutMs',
    'breaker.recovery.passLatencyMs must not be greater than probeTimeoutMs',
    (self) => !has(self, 'passLatencyMs') || !has(self, 'probeTimeoutMs') || (self.passLatencyMs as number) <= (self.probeTimeoutMs as number),
  ),
  rule<number[]>(
    ['spec', 'observability', 'matrix', 'seqLenEdges'],
    'self.isSorted() && self.all(e, self.exists_one(f, f == e))',
    'observability.matrix.seqLenEdges must be strictly ascending',
    (self) => self.every((e, i) => i === 0 || e > (self[i - 1] as number)),
  ),
];

/** Every value at `path` under `root`, with its concrete path (array indices, map keys filled in). */
export function valuesAt(root: unknown, path: RulePath): { path: string[]; value: unknown }[] {
  let frontier: { path: string[]; value: unknown }[] = [{ path: [], value: root }];
  for (const segment of path) {
    const next: { path: string[]; value: unknown }[] = [];
    for (const { path: at, value } of frontier) {
      if (value === null || typeof value !== 'object') continue;
      if (segment === '*') {
        const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
        for (const [key, child] of entries) next.push({ path: [...at, key], value: child });
      } else {
        const child = (value as Obj)[segment];
        if (child !== undefined && child !== null) next.push({ path: [...at, segment], value: child });
      }
    }
    frontier = next;
  }
  return frontier;
}
