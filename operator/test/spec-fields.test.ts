// Every PaddleService spec field reaches the place that uses it. The fields are enumerated from
// the CRD's schema (so a field added to the CRD appears here by itself); for each, the table says
// which child object, pod env or sidecar config carries it and which code reads it there. The
// test sets a distinctive value, builds the children, checks the value arrived, and checks the
// reading code names it. A field with no entry fails: a spec field that goes nowhere fails the
// build.
//
// Adding a field to the CRD? Add a FIELDS entry: `value` (valid for the schema, easy to spot),
// `carried` (where the builders put it), `reader` (the file and the pattern that reads it
// there, or `kubernetes` when a Kubernetes component acts on it).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject, V1Container, V1Deployment } from '@kubernetes/client-node';
import { ENV, type PaddleService, type PaddleServiceSpec, type SidecarConfig } from '../../crds/src/index.js';
import { paddleServiceSchema, type SchemaNode } from '../../crds/src/schema.js';
import { parseSidecarConfig } from '../../sidecar/src/config.js';
import { computeDesiredReplicas } from '../src/autoscale.js';
import { buildChildren, CONFIG_FILE_KEY, DEFAULT_OPERATOR_CONFIG } from '../src/builders/index.js';
import { reportTiming } from '../src/status/fleet.js';
import { variant } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Spec leaf paths from the CRD: `a.b`, arrays of objects as `a[].b`; maps and free-form objects are leaves. */
export function specFieldPaths(node: SchemaNode = paddleServiceSchema().properties?.spec as SchemaNode, prefix = ''): string[] {
  if (node.properties) return Object.entries(node.properties).flatMap(([k, v]) => specFieldPaths(v, prefix ? `${prefix}.${k}` : k));
  if (node.type === 'array' && node.items?.properties) return specFieldPaths(node.items, `${prefix}[]`);
  return [prefix];
}

interface Built {
  ps: PaddleService;
  objects: KubernetesObject[];
  deployment: V1Deployment;
  container: V1Container;
  env: Record<string, string>;
  /** The rendered config file, parsed by the sidecar's own parser (so the sidecar accepts it). */
  config: SidecarConfig;
  kind(kind: string): KubernetesObject | undefined;
}

type Reader = { file: string; pattern: RegExp } | { kubernetes: string };

interface FieldEntry {
  value: unknown;
  /** How to put `value` in (default: at the path, the first array item for `[]`). */
  set?: (spec: PaddleServiceSpec, value: unknown) => void;
  /** Where the built objects carry it; must contain `value` (compared as JSON text). */
  carried: (b: Built) => unknown;
  reader: Reader | Reader[];
}

const SIDECAR = (file: string, pattern: RegExp): Reader => ({ file: `sidecar/src/${file}`, pattern });
const OPERATOR = (file: string, pattern: RegExp): Reader => ({ file: `operator/src/${file}`, pattern });
/** `paddle-model fetch` in the model-fetch init container: the flag its store reads. */
const FETCH = (flagName: string, file = 'store.ts'): Reader => ({ file: `native/lib/cli/${file}`, pattern: new RegExp(`[fF]lag\\(args, '${flagName}'`) });
const K8S = (what: string): Reader => ({ kubernetes: what });
const podSpec = (b: Built) => b.deployment.spec?.template.spec;
const volume = (b: Built, name: string) => podSpec(b)?.volumes?.find((v) => v.name === name);
const envReader = (key: keyof typeof ENV): Reader => SIDECAR('main.ts', new RegExp(`ENV\\.${key}\\b`));
const configReader = (file: string, field: string): Reader => SIDECAR(file, new RegExp(`[.{,] *${field}\\b`));
const replicasFor = (b: Built, o: { current: number; p95Ms?: number; gpu?: number }) =>
  computeDesiredReplicas({ spec: b.ps.spec, current: o.current, ...(o.p95Ms !== undefined ? { p95Ms: o.p95Ms } : {}), ...(o.gpu !== undefined ? { gpuMemoryUtilization: o.gpu } : {}), now: 0 });
const breaker = (field: string, value: unknown): FieldEntry => ({
  value,
  carried: (b) => (b.config.breaker as unknown as Record<string, unknown>)[field],
  reader: configReader('breaker.ts', field),
});
const recovery = (field: string, value: unknown): FieldEntry => ({
  value,
  carried: (b) => (b.config.breaker.recovery as unknown as Record<string, unknown>)[field],
  reader: configReader('breaker.ts', field),
});
const matrix = (field: string, value: unknown, operatorToo = false): FieldEntry => ({
  value,
  carried: (b) => (b.config.matrix as unknown as Record<string, unknown>)[field],
  reader: [configReader('matrix.ts', field), ...(operatorToo ? [OPERATOR('status/fleet.ts', new RegExp(`matrix\\?\\.${field}`))] : [])],
});
const audit = (field: string, value: unknown, reader: Reader): FieldEntry => ({ value, carried: (b) => (b.config.audit as Record<string, unknown> | undefined)?.[field], reader });
const source = (src: PaddleServiceSpec['model']['source']) => (spec: PaddleServiceSpec) => {
  spec.model.source = src;
};
const S3 = source({
  s3: {
    endpoint: 'http://walk-s3.example.com:9000',
    bucket: 'walk-bucket',
    prefix: 'walk/prefix',
    region: 'walk-region-1',
    credentialsSecretRef: { name: 'walk-s3-creds', accessKeyIdKey: 'walkAccessKey', secretAccessKeyKey: 'walkSecretKey' },
    maxSizeMB: 777,
  },
});
const HTTPS = source({
  https: {
    url: 'https://walk-models.example.com/m/v1',
    headersSecretRef: { name: 'walk-headers', key: 'walk-headers-key' },
    caSecretRef: { name: 'walk-https-ca', key: 'walk-ca-key' },
    maxSizeMB: 555,
  },
});
const fetcher = (b: Built) => b.deployment.spec?.template.spec?.initContainers?.find((c) => c.name === 'model-fetch');
const fetchSource = (b: Built) => [fetcher(b)?.args, volume(b, 'model-source'), volume(b, 'model')];

export const FIELDS: Record<string, FieldEntry> = {
  replicas: {
    value: 7,
    set: (spec, v) => {
      delete spec.autoscaling;
      spec.replicas = v as number;
    },
    carried: (b) => b.deployment.spec?.replicas,
    reader: OPERATOR('autoscale.ts', /spec\.replicas/),
  },
  'model.name': { value: 'field-walk-model', carried: (b) => [b.env[ENV.modelName], b.config.model.name], reader: [envReader('modelName'), SIDECAR('pipeline/predict.ts', /config\.model\.name/)] },
  'model.source.pvc.claimName': { value: 'walk-claim', set: source({ pvc: { claimName: 'walk-claim' } }), carried: (b) => volume(b, 'model'), reader: K8S('kubelet mounts the claim') },
  'model.source.pvc.subPath': {
    value: 'walk/sub',
    set: source({ pvc: { claimName: 'c', subPath: 'walk/sub' } }),
    carried: (b) => b.container.volumeMounts,
    reader: K8S('kubelet mounts the subPath'),
  },
  'model.source.image.reference': { value: 'registry.example.com/walk@sha256:1', carried: (b) => volume(b, 'model'), reader: K8S('kubelet pulls the image volume') },
  'model.source.image.pullPolicy': { value: 'Always', carried: (b) => volume(b, 'model')?.image?.pullPolicy, reader: K8S('kubelet') },
  'model.source.configMap.name': { value: 'walk-model-cm', set: source({ configMap: { name: 'walk-model-cm' } }), carried: (b) => volume(b, 'model'), reader: K8S('kubelet') },
  'model.source.s3.endpoint': { value: 'http://walk-s3.example.com:9000', set: S3, carried: fetchSource, reader: FETCH('s3-endpoint') },
  'model.source.s3.bucket': { value: 'walk-bucket', set: S3, carried: fetchSource, reader: FETCH('s3-bucket') },
  'model.source.s3.prefix': { value: 'walk/prefix', set: S3, carried: fetchSource, reader: FETCH('s3-prefix') },
  'model.source.s3.region': { value: 'walk-region-1', set: S3, carried: fetchSource, reader: FETCH('s3-region') },
  'model.source.s3.credentialsSecretRef.name': { value: 'walk-s3-creds', set: S3, carried: fetchSource, reader: FETCH('credentials-dir') },
  'model.source.s3.credentialsSecretRef.accessKeyIdKey': { value: 'walkAccessKey', set: S3, carried: fetchSource, reader: K8S('kubelet projects the key') },
  'model.source.s3.credentialsSecretRef.secretAccessKeyKey': { value: 'walkSecretKey', set: S3, carried: fetchSource, reader: K8S('kubelet projects the key') },
  'model.source.s3.maxSizeMB': { value: 777, set: S3, carried: fetchSource, reader: FETCH('max-bytes', 'fetch.ts') },
  'model.source.https.url': { value: 'https://walk-models.example.com/m/v1', set: HTTPS, carried: fetchSource, reader: FETCH('url') },
  'model.source.https.headersSecretRef.name': { value: 'walk-headers', set: HTTPS, carried: fetchSource, reader: FETCH('headers-file') },
  'model.source.https.headersSecretRef.key': { value: 'walk-headers-key', set: HTTPS, carried: fetchSource, reader: K8S('kubelet projects the key') },
  'model.source.https.caSecretRef.name': { value: 'walk-https-ca', set: HTTPS, carried: fetchSource, reader: FETCH('ca-file') },
  'model.source.https.caSecretRef.key': { value: 'walk-ca-key', set: HTTPS, carried: fetchSource, reader: K8S('kubelet projects the key') },
  'model.source.https.maxSizeMB': { value: 555, set: HTTPS, carried: fetchSource, reader: FETCH('max-bytes', 'fetch.ts') },
  'model.format': { value: 'pdmodel', carried: (b) => b.env[ENV.modelFormat], reader: envReader('modelFormat') },
  'model.verification.required': { value: false, carried: (b) => b.env[ENV.requireSignature], reader: envReader('requireSignature') },
  'model.verification.publicKeySecretRef.name': { value: 'walk-key', carried: (b) => volume(b, 'verify-key'), reader: SIDECAR('main.ts', /values\['public-key'\]/) },
  'model.verification.publicKeySecretRef.key': { value: 'walk.pem', carried: (b) => volume(b, 'verify-key'), reader: K8S('kubelet projects the key') },
  'runtime.image': { value: 'registry.example.com/walk-sidecar:9', carried: (b) => b.container.image, reader: K8S('kubelet') },
  'runtime.imagePullPolicy': { value: 'Never', carried: (b) => b.container.imagePullPolicy, reader: K8S('kubelet') },
  'runtime.backend': { value: 'paddle', carried: (b) => b.env[ENV.backend], reader: envReader('backend') },
  'runtime.device': {
    value: 'cpu',
    set: (spec, v) => {
      spec.runtime = { ...spec.runtime, device: v as 'cpu' };
    },
    carried: (b) => b.env[ENV.device],
    reader: envReader('device'),
  },
  'runtime.cpuThreads': { value: 13, carried: (b) => b.env[ENV.cpuThreads], reader: envReader('cpuThreads') },
  'runtime.maxMemoryMB': { value: 4321, carried: (b) => [b.env[ENV.maxMemoryMB], b.container.resources?.limits?.memory], reader: envReader('maxMemoryMB') },
  'runtime.paddleVersion': { value: '2.6.1', carried: (b) => b.env[ENV.paddleVersion], reader: envReader('paddleVersion') },
  'resources.gpu.count': { value: 3, carried: (b) => b.container.resources?.limits, reader: K8S('scheduler (extended resource)') },
  'resources.gpu.resourceName': { value: 'example.com/gpu', carried: (b) => b.container.resources?.limits, reader: K8S('scheduler') },
  'resources.gpu.product': { value: 'WALK-GPU-1', carried: (b) => podSpec(b)?.nodeSelector, reader: K8S('scheduler (node selector)') },
  'resources.requests.cpu': { value: '1500m', carried: (b) => b.container.resources?.requests, reader: K8S('scheduler') },
  'resources.requests.memory': { value: '3Gi', carried: (b) => b.container.resources?.requests, reader: K8S('scheduler') },
  'resources.limits.cpu': { value: '7', carried: (b) => b.container.resources?.limits, reader: K8S('kubelet (CFS quota)') },
  'resources.nodeSelector': { value: { 'walk.example.com/pool': 'a' }, carried: (b) => podSpec(b)?.nodeSelector, reader: K8S('scheduler') },
  'resources.tolerations[].key': { value: 'walk.example.com/taint', carried: (b) => podSpec(b)?.tolerations, reader: K8S('scheduler') },
  'resources.tolerations[].operator': {
    value: 'Equal',
    set: (spec) => {
      spec.resources = { ...spec.resources, tolerations: [{ key: 'k', operator: 'Equal', value: 'walk-v', effect: 'NoExecute', tolerationSeconds: 77 }] };
    },
    carried: (b) => podSpec(b)?.tolerations,
    reader: K8S('scheduler'),
  },
  'resources.tolerations[].value': { value: 'walk-v', set: (spec) => void FIELDS['resources.tolerations[].operator']?.set?.(spec, null), carried: (b) => podSpec(b)?.tolerations, reader: K8S('scheduler') },
  'resources.tolerations[].effect': { value: 'NoExecute', set: (spec) => void FIELDS['resources.tolerations[].operator']?.set?.(spec, null), carried: (b) => podSpec(b)?.tolerations, reader: K8S('scheduler') },
  'resources.tolerations[].tolerationSeconds': { value: 77, set: (spec) => void FIELDS['resources.tolerations[].operator']?.set?.(spec, null), carried: (b) => podSpec(b)?.tolerations, reader: K8S('node lifecycle controller') },
  'resources.affinity': { value: { nodeAffinity: { walk: true } }, carried: (b) => podSpec(b)?.affinity, reader: K8S('scheduler') },
  'autoscaling.minReplicas': { value: 3, carried: (b) => replicasFor(b, { current: 1 }).replicas, reader: OPERATOR('autoscale.ts', /a\.minReplicas/) },
  'autoscaling.maxReplicas': { value: 6, carried: (b) => replicasFor(b, { current: 5, p95Ms: 10_000 }).replicas, reader: OPERATOR('autoscale.ts', /a\.maxReplicas/) },
  'autoscaling.targetP95Ms': { value: 123, carried: (b) => replicasFor(b, { current: 2, p95Ms: 100 }).reason, reader: OPERATOR('autoscale.ts', /a\.targetP95Ms/) },
  'autoscaling.maxGpuMemoryUtilization': { value: 0.55, carried: (b) => replicasFor(b, { current: 2, gpu: 0.6 }).reason, reader: OPERATOR('autoscale.ts', /a\.maxGpuMemoryUtilization/) },
  'autoscaling.scaleDownStabilizationSeconds': { value: 42, carried: (b) => replicasFor(b, { current: 4, p95Ms: 1 }).reason, reader: OPERATOR('autoscale.ts', /a\.scaleDownStabilizationSeconds/) },
  'tls.enabled': { value: false, set: (spec) => void (spec.tls = { enabled: false }), carried: (b) => [!b.container.args?.includes('--no-tls'), b.kind('Certificate') !== undefined], reader: SIDECAR('main.ts', /values\['no-tls'\]/) },
  'tls.issuerRef.name': { value: 'walk-issuer', carried: (b) => b.kind('Certificate'), reader: K8S('cert-manager') },
  'tls.issuerRef.kind': { value: 'Issuer', carried: (b) => b.kind('Certificate'), reader: K8S('cert-manager') },
  'tls.issuerRef.group': { value: 'walk.example.com', carried: (b) => b.kind('Certificate'), reader: K8S('cert-manager') },
  'tls.mutual': { value: false, carried: (b) => (b.container.args?.includes('--mtls') ? true : false), reader: SIDECAR('main.ts', /values\.mtls/) },
  'auth.enabled': { value: false, set: (spec) => void (spec.auth = { enabled: false }), carried: (b) => b.config.auth.enabled, reader: SIDECAR('pipeline/authn.ts', /this\.auth\.enabled/) },
  'auth.jwksSecretRef.name': { value: 'walk-jwks', carried: (b) => [volume(b, 'auth'), b.config.auth.jwksFile ? 'walk-jwks' : 'no file'], reader: configReader('pipeline/authn.ts', 'jwksFile') },
  'auth.jwksSecretRef.key': { value: 'walk.json', carried: (b) => volume(b, 'auth'), reader: K8S('kubelet projects the key') },
  'auth.hmacSecretRef.name': {
    value: 'walk-hmac',
    set: (spec) => {
      spec.auth = { ...spec.auth, hmacSecretRef: { name: 'walk-hmac', key: 'walk.key' } };
      delete spec.auth.jwksSecretRef;
    },
    carried: (b) => [volume(b, 'auth'), b.config.auth.hmacSecretFile ? 'walk-hmac' : 'no file'],
    reader: configReader('pipeline/authn.ts', 'hmacSecretFile'),
  },
  'auth.hmacSecretRef.key': { value: 'walk.key', set: (spec) => void FIELDS['auth.hmacSecretRef.name']?.set?.(spec, null), carried: (b) => volume(b, 'auth'), reader: K8S('kubelet projects the key') },
  'auth.issuer': { value: 'https://walk.example.com', carried: (b) => b.config.auth.issuer, reader: configReader('auth.ts', 'issuer') },
  'auth.audience': { value: 'walk-aud', carried: (b) => b.config.auth.audience, reader: configReader('auth.ts', 'audience') },
  'auth.clockSkewSeconds': { value: 17, carried: (b) => b.config.auth.clockSkewSeconds, reader: configReader('auth.ts', 'clockSkewSeconds') },
  // Default-deny: every protected route needs exactly one policy, so the path is shown by moving
  // a distinctive domain from one route to another.
  'auth.policies[].path': {
    value: { domain: 'walk_export', path: '/v1/export_model' },
    set: (spec) => {
      spec.auth = { ...spec.auth, policies: (spec.auth?.policies ?? []).map((p) => (p.path === '/v1/export_model' ? { ...p, domain: 'walk_export' } : p)) };
    },
    carried: (b) => b.config.auth.policies,
    reader: SIDECAR('pipeline/authz.ts', /PROTECTED_PATHS\.includes\(p\.path\)/),
  },
  'auth.policies[].domain': { value: 'walk_domain', carried: (b) => b.config.auth.policies, reader: SIDECAR('pipeline/authz.ts', /principal\.domains\.has\(policy\.domain\)/) },
  'auth.policies[].callsPerMinute': { value: 4321, carried: (b) => b.config.auth.policies, reader: [SIDECAR('pipeline/rate-limit.ts', /policy\.callsPerMinute \* share/), SIDECAR('pipeline/access.ts', /config\.auth\.rateShare/)] },
  'cors.allowedOrigins': { value: ['https://walk.example.com'], carried: (b) => b.config.cors.allowedOrigins, reader: configReader('rest/front-end.ts', 'allowedOrigins') },
  'breaker.latencyMultiplier': breaker('latencyMultiplier', 2.7),
  'breaker.errorRateThreshold': breaker('errorRateThreshold', 0.37),
  'breaker.consecutiveWindows': breaker('consecutiveWindows', 9),
  'breaker.windowSeconds': breaker('windowSeconds', 23),
  'breaker.failureThreshold': breaker('failureThreshold', 31),
  'breaker.treatmentFailureThreshold': breaker('treatmentFailureThreshold', 3),
  'breaker.recovery.initialDelaySeconds': recovery('initialDelaySeconds', 3),
  'breaker.recovery.maxDelaySeconds': recovery('maxDelaySeconds', 71),
  'breaker.recovery.maxBackoffAttempts': recovery('maxBackoffAttempts', 7),
  'breaker.recovery.jitter': recovery('jitter', 0.23),
  'breaker.recovery.requiredPasses': recovery('requiredPasses', 4),
  'breaker.recovery.passLatencyMs': recovery('passLatencyMs', 171),
  'breaker.recovery.probeTimeoutMs': recovery('probeTimeoutMs', 777),
  'degradation.cpuShedWatermark': { value: 0.93, carried: (b) => b.config.degradation.cpuShedWatermark, reader: configReader('degradation.ts', 'cpuShedWatermark') },
  'degradation.gpuFallbackWatermark': { value: 0.77, carried: (b) => b.config.degradation.gpuFallbackWatermark, reader: configReader('degradation.ts', 'gpuFallbackWatermark') },
  'degradation.sampleIntervalSeconds': { value: 11, carried: (b) => b.config.degradation.sampleIntervalSeconds, reader: configReader('pipeline/serving-mode.ts', 'sampleIntervalSeconds') },
  'degradation.retryAfterSeconds': { value: 13, carried: (b) => b.config.degradation.retryAfterSeconds, reader: SIDECAR('pipeline/serving-mode.ts', /degradation\.retryAfterSeconds/) },
  'queue.maxInFlight': { value: 9, carried: (b) => b.config.queue.maxInFlight, reader: SIDECAR('pipeline/predict.ts', /c\.queue\.maxInFlight/) },
  'queue.maxQueued': { value: 333, carried: (b) => b.config.queue.maxQueued, reader: SIDECAR('pipeline/predict.ts', /c\.queue\.maxQueued/) },
  'queue.maxQueueTimeMs': { value: 4444, carried: (b) => b.config.queue.maxQueueTimeMs, reader: SIDECAR('pipeline/predict.ts', /c\.queue\.maxQueueTimeMs/) },
  'batching.enabled': { value: true, carried: (b) => b.config.batching.enabled, reader: SIDECAR('pipeline/predict.ts', /c\.batching\.enabled/) },
  'batching.maxBatchSize': { value: 48, carried: (b) => b.config.batching.maxBatchSize, reader: SIDECAR('pipeline/predict.ts', /c\.batching\.maxBatchSize/) },
  'batching.maxQueueDelayMicroseconds': { value: 2345, carried: (b) => b.config.batching.maxQueueDelayMicroseconds, reader: SIDECAR('pipeline/predict.ts', /c\.batching\.maxQueueDelayMicroseconds/) },
  'batching.preferredBatchSizes': { value: [4, 8], carried: (b) => b.config.batching.preferredBatchSizes, reader: SIDECAR('pipeline/predict.ts', /c\.batching\.preferredBatchSizes/) },
  'canary.envId': { value: 'walk-env', carried: (b) => b.config.canary.envId, reader: configReader('pipeline/context.ts', 'envId') },
  'canary.treatmentPercent': { value: 37, carried: (b) => b.config.canary.treatmentPercent, reader: configReader('pipeline/access.ts', 'treatmentPercent') },
  'observability.otlp.endpoint': { value: 'http://walk-collector:4318', carried: (b) => b.config.otlp?.endpoint, reader: SIDECAR('main.ts', /otlp\??\.endpoint/) },
  'observability.audit.protocol': audit('protocol', 'udp', SIDECAR('main.ts', /a\.protocol/)),
  'observability.audit.host': audit('host', 'walk-siem.example.com', SIDECAR('main.ts', /host: a\.host/)),
  'observability.audit.port': audit('port', 1514, SIDECAR('main.ts', /a\.port/)),
  'observability.audit.caSecretRef.name': { value: 'walk-ca', carried: (b) => [volume(b, 'audit-ca'), b.config.audit?.caFile ? 'walk-ca' : 'no file'], reader: SIDECAR('main.ts', /a\.caFile/) },
  'observability.audit.caSecretRef.key': { value: 'walk-ca.crt', carried: (b) => volume(b, 'audit-ca'), reader: K8S('kubelet projects the key') },
  'observability.audit.appName': audit('appName', 'walk-app', SIDECAR('main.ts', /a\.appName/)),
  'observability.audit.bufferRecords': audit('bufferRecords', 4242, SIDECAR('main.ts', /a\.bufferRecords/)),
  'observability.reportIntervalSeconds': {
    value: 21,
    carried: (b) => [b.config.reportIntervalSeconds, reportTiming(b.ps.spec).intervalMs / 1000],
    reader: [SIDECAR('main.ts', /config\(\)\.reportIntervalSeconds/), OPERATOR('status/fleet.ts', /reportIntervalSeconds/)],
  },
  'observability.reportHeartbeatSeconds': {
    value: 300,
    carried: (b) => [b.config.reportHeartbeatSeconds, reportTiming(b.ps.spec).heartbeatMs / 1000],
    reader: [SIDECAR('main.ts', /config\(\)\.reportHeartbeatSeconds/), OPERATOR('status/fleet.ts', /reportHeartbeatSeconds/)],
  },
  'observability.logLevel': { value: 'warn', carried: (b) => b.config.logLevel, reader: SIDECAR('main.ts', /config\.logLevel/) },
  'observability.matrix.gpuMemoryBucketMB': matrix('gpuMemoryBucketMB', 2048, true),
  'observability.matrix.gpuMemoryBuckets': matrix('gpuMemoryBuckets', 33),
  'observability.matrix.latencyBucketMs': matrix('latencyBucketMs', 7, true),
  'observability.matrix.latencyBuckets': matrix('latencyBuckets', 77),
  'observability.matrix.seqLenEdges': matrix('seqLenEdges', [100, 300, 900], true),
};

function setAt(spec: PaddleServiceSpec, path: string, value: unknown): void {
  const parts = path.split('.');
  let at: Record<string, unknown> = spec as unknown as Record<string, unknown>;
  for (const [i, raw] of parts.entries()) {
    const isArray = raw.endsWith('[]');
    const key = isArray ? raw.slice(0, -2) : raw;
    if (i === parts.length - 1) {
      at[key] = value;
      return;
    }
    if (isArray) {
      const arr = (at[key] as Record<string, unknown>[] | undefined) ?? [];
      at[key] = arr;
      at = arr[0] ?? (arr[0] = {});
    } else {
      at = (at[key] as Record<string, unknown> | undefined) ?? (at[key] = {});
    }
  }
}

function build(ps: PaddleService): Built {
  const { objects } = buildChildren(ps, DEFAULT_OPERATOR_CONFIG, { replicas: ps.spec.replicas ?? 1 });
  const kind = (k: string) => objects.find((o) => o.kind === k);
  const deployment = kind('Deployment') as V1Deployment;
  const container = deployment.spec?.template.spec?.containers[0] as V1Container;
  const env = Object.fromEntries((container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]));
  const cm = kind('ConfigMap') as KubernetesObject & { data: Record<string, string> };
  const parsed = parseSidecarConfig(cm.data[CONFIG_FILE_KEY] ?? '');
  if (!parsed.ok) throw new Error(`the sidecar refuses the rendered config: ${parsed.error}`);
  return { ps, objects, deployment, container, env, config: parsed.config, kind };
}

function readerFiles(r: Reader | Reader[]): Reader[] {
  return Array.isArray(r) ? r : [r];
}

describe('every spec field reaches the place that uses it', () => {
  const paths = specFieldPaths();

  it('the CRD has spec fields to walk (the enumeration works)', () => {
    assert.ok(paths.length > 80, String(paths.length));
    assert.ok(paths.includes('runtime.paddleVersion'));
    assert.ok(paths.includes('auth.policies[].callsPerMinute'));
  });

  it('each CRD spec field has an entry here, and each entry is a CRD field', () => {
    const missing = paths.filter((p) => !(p in FIELDS));
    assert.deepEqual(
      missing,
      [],
      `spec fields with no entry in operator/test/spec-fields.test.ts FIELDS (say where each lands and what reads it, or the field goes nowhere): ${missing.join(', ')}`,
    );
    const stale = Object.keys(FIELDS).filter((p) => !paths.includes(p));
    assert.deepEqual(stale, [], `FIELDS entries that are not CRD spec fields: ${stale.join(', ')}`);
  });

  for (const path of specFieldPaths()) {
    const entry = FIELDS[path];
    if (!entry) continue;
    it(`spec.${path} -> ${readerFiles(entry.reader).map((r) => ('file' in r ? r.file : r.kubernetes)).join(', ')}`, () => {
      const ps = variant('gpu.yaml', (p) => (entry.set ? entry.set(p.spec, entry.value) : setAt(p.spec, path, entry.value)));
      const carried = JSON.stringify(entry.carried(build(ps)) ?? null);
      const want = JSON.stringify(entry.value);
      const wanted = typeof entry.value === 'string' || typeof entry.value === 'number' || typeof entry.value === 'boolean' ? [want, JSON.stringify(String(entry.value))] : [want.slice(1, -1)];
      assert.ok(wanted.some((w) => carried.includes(w)), `spec.${path} = ${want} did not arrive: got ${carried}`);
      for (const r of readerFiles(entry.reader)) {
        if (!('file' in r)) continue;
        const file = `${ROOT}${r.file}`;
        assert.ok(existsSync(file), `${r.file} does not exist`);
        assert.match(readFileSync(file, 'utf8'), r.pattern, `${r.file} does not read spec.${path} (${r.pattern})`);
      }
    });
  }
});
