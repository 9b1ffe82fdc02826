// The model Deployment: one sidecar container (the TypeScript server with the native predictor)
// per pod, GPU scheduling, the memory ceiling as the cgroup limit, the model / public key / TLS /
// config volumes, health probes (on the plain-HTTP health port), a restricted security context and a rollout that never drops
// below the ready capacity.

import type { V1Affinity, V1Container, V1Deployment, V1EnvVar, V1PodTemplateSpec, V1Probe, V1Toleration, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { ENV, HTTP_PATHS, PATHS, PORTS, SIDECAR_ARGS, type PaddleService } from '../../../crds/src/index.js';
import { InvalidSpecError } from '../errors.js';
import { ANNOTATIONS, childMeta, childNames, hashOf, nameOf, selectorLabels, commonLabels, TEMPLATE_HASH_LABEL, type OperatorConfig } from './common.js';
import { CONFIG_FILE_KEY } from './config-map.js';
import { buildModelFetch, fetchesModel, modelEmptyDir } from './model-fetch.js';
import { must } from './resolved.js';
import { formatMebibytes } from '../quantity.js';

export const CONTAINER_NAME = 'sidecar';
/** The container port the kubelet probes (plain HTTP, the two probe paths only; not on the Service). */
export const HEALTH_PORT_NAME = 'health';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
/** Non-root uid/gid the sidecar image runs as (distroless "nonroot"). */
export const RUN_AS_USER = 65532;

export interface DeploymentInputs {
  replicas: number;
  /** computeRestartHash(config): settings read only at start. */
  restartHash: string;
}

/** Every container of the pod: non-root, no privilege escalation, read-only root, no capabilities. */
const CONTAINER_SECURITY = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Whether the pods ask for GPUs (device gpu with a count >= 1). */
export function wantsGpu(ps: PaddleService): boolean {
  return ps.spec.runtime?.device === 'gpu' && (ps.spec.resources?.gpu?.count ?? 0) >= 1;
}

function buildVolumes(ps: PaddleService): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const s = ps.spec;
  const names = childNames(nameOf(ps));
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];

  const src = s.model.source;
  const sources = [src.pvc, src.image, src.configMap, src.s3, src.https].filter((x) => x !== undefined).length;
  if (sources !== 1) throw new InvalidSpecError('spec.model.source: set exactly one of pvc, image, configMap, s3 or https');
  if (src.pvc) {
    volumes.push({ name: 'model', persistentVolumeClaim: { claimName: src.pvc.claimName, readOnly: true } });
    mounts.push({ name: 'model', mountPath: PATHS.modelDir, readOnly: true, ...(src.pvc.subPath ? { subPath: src.pvc.subPath } : {}) });
  } else if (src.image) {
    volumes.push({ name: 'model', image: { reference: src.image.reference, pullPolicy: src.image.pullPolicy ?? 'IfNotPresent' } });
    mounts.push({ name: 'model', mountPath: PATHS.modelDir, readOnly: true });
  } else if (src.configMap) {
    volumes.push({ name: 'model', configMap: { name: src.configMap.name } });
    mounts.push({ name: 'model', mountPath: PATHS.modelDir, readOnly: true });
  } else if (fetchesModel(ps)) {
    // Filled by the model-fetch init container (model-fetch.ts), read-only for the sidecar.
    volumes.push(modelEmptyDir(ps));
    mounts.push({ name: 'model', mountPath: PATHS.modelDir, readOnly: true });
  }

  const verification = s.model.verification;
  if (verification?.publicKeySecretRef) {
    const ref = verification.publicKeySecretRef;
    volumes.push({
      name: 'verify-key',
      secret: { secretName: ref.name, items: [{ key: ref.key ?? 'public.pem', path: baseOf(PATHS.publicKey) }], defaultMode: 0o444 },
    });
    mounts.push({ name: 'verify-key', mountPath: dirOf(PATHS.publicKey), readOnly: true });
  } else if (verification?.required !== false) {
    throw new InvalidSpecError('spec.model.verification.publicKeySecretRef: required while verification.required is true');
  }

  if (s.tls?.enabled !== false) {
    volumes.push({ name: 'tls', secret: { secretName: names.tlsSecret, defaultMode: 0o440 } });
    mounts.push({ name: 'tls', mountPath: PATHS.tlsDir, readOnly: true });
  }

  volumes.push({ name: 'config', configMap: { name: names.configMap, items: [{ key: CONFIG_FILE_KEY, path: baseOf(PATHS.configFile) }] } });
  mounts.push({ name: 'config', mountPath: dirOf(PATHS.configFile), readOnly: true });

  const auth = s.auth;
  if (auth?.enabled !== false && (auth?.jwksSecretRef || auth?.hmacSecretRef)) {
    const sources = [];
    if (auth.jwksSecretRef) {
      sources.push({ secret: { name: auth.jwksSecretRef.name, items: [{ key: auth.jwksSecretRef.key ?? 'jwks.json', path: baseOf(PATHS.jwksFile) }] } });
    }
    if (auth.hmacSecretRef) {
      sources.push({ secret: { name: auth.hmacSecretRef.name, items: [{ key: auth.hmacSecretRef.key ?? 'hmac.key', path: baseOf(PATHS.hmacSecretFile) }] } });
    }
    volumes.push({ name: 'auth', projected: { sources, defaultMode: 0o440 } });
    mounts.push({ name: 'auth', mountPath: PATHS.authDir, readOnly: true });
  }

  const auditCa = s.observability?.audit?.caSecretRef;
  if (auditCa) {
    volumes.push({ name: 'audit-ca', secret: { secretName: auditCa.name, items: [{ key: auditCa.key ?? 'ca.crt', path: baseOf(PATHS.auditCaFile) }] } });
    mounts.push({ name: 'audit-ca', mountPath: dirOf(PATHS.auditCaFile), readOnly: true });
  }

  // Read-only root filesystem: scratch space is an emptyDir.
  volumes.push({ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } });
  mounts.push({ name: 'tmp', mountPath: PATHS.tmpDir });
  return { volumes, mounts };
}

function buildEnv(ps: PaddleService): V1EnvVar[] {
  const rt = must(ps.spec.runtime, 'spec.runtime');
  const threads = String(must(rt.cpuThreads, 'spec.runtime.cpuThreads'));
  const env: V1EnvVar[] = [
    { name: ENV.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: ENV.podNamespace, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: ENV.templateHash, valueFrom: { fieldRef: { fieldPath: `metadata.labels['${TEMPLATE_HASH_LABEL}']` } } },
    { name: ENV.serviceName, value: nameOf(ps) },
    { name: ENV.cpuThreads, value: threads },
    // Math libraries size their pools from these; keep them at the predictor's thread budget.
    { name: 'OMP_NUM_THREADS', value: threads },
    { name: 'MKL_NUM_THREADS', value: threads },
    // glibc malloc: a fixed mmap threshold, so large blocks (run workspaces, response buffers)
    // go back to the kernel when freed instead of staying in a heap at the pod's peak; two arenas
    // instead of one per thread that ever allocated.
    { name: 'MALLOC_MMAP_THRESHOLD_', value: '131072' },
    { name: 'MALLOC_ARENA_MAX', value: '2' },
    { name: ENV.maxMemoryMB, value: String(must(rt.maxMemoryMB, 'spec.runtime.maxMemoryMB')) },
    { name: ENV.backend, value: must(rt.backend, 'spec.runtime.backend') },
    { name: ENV.device, value: must(rt.device, 'spec.runtime.device') },
    { name: ENV.modelName, value: ps.spec.model.name },
    { name: ENV.modelFormat, value: must(ps.spec.model.format, 'spec.model.format') },
    { name: ENV.requireSignature, value: String(ps.spec.model.verification?.required !== false) },
  ];
  if (rt.paddleVersion) env.push({ name: ENV.paddleVersion, value: rt.paddleVersion });
  return env;
}

function buildProbes(): { liveness: V1Probe; readiness: V1Probe; startup: V1Probe } {
  // The probes go to the sidecar's plain-HTTP health port, which serves GET /v2/health/live and
  // /v2/health/ready and nothing else: the kubelet cannot present a client certificate to a
  // mutual-TLS serving port, and the probes need no TLS handshake (the same probes for every
  // spec.tls). The metrics port serves /metrics only; neither side port reaches the API.
  const get = (path: string) => ({ httpGet: { path, port: HEALTH_PORT_NAME, scheme: 'HTTP' } });
  return {
    liveness: { ...get(HTTP_PATHS.live), periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    readiness: { ...get(HTTP_PATHS.ready), periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
    // Loading and verifying a large model may take minutes: allow up to 10 minutes to start.
    startup: { ...get(HTTP_PATHS.live), periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 120 },
  };
}

function buildResources(ps: PaddleService): { requests: Record<string, string>; limits: Record<string, string> } {
  const rt = must(ps.spec.runtime, 'spec.runtime');
  const res = ps.spec.resources ?? {};
  const memLimit = formatMebibytes(must(rt.maxMemoryMB, 'spec.runtime.maxMemoryMB'));
  const requests: Record<string, string> = {
    cpu: res.requests?.cpu ?? String(must(rt.cpuThreads, 'spec.runtime.cpuThreads')),
    memory: res.requests?.memory ?? memLimit,
  };
  const limits: Record<string, string> = { memory: memLimit };
  if (res.limits?.cpu) limits.cpu = res.limits.cpu;
  if (wantsGpu(ps)) {
    const gpu = must(res.gpu, 'spec.resources.gpu');
    const resourceName = must(gpu.resourceName, 'spec.resources.gpu.resourceName');
    const count = String(must(gpu.count, 'spec.resources.gpu.count'));
    // Extended resources: the request must equal the limit.
    limits[resourceName] = count;
    requests[resourceName] = count;
  }
  return { requests, limits };
}

function buildTolerations(ps: PaddleService): V1Toleration[] {
  const out: V1Toleration[] = (ps.spec.resources?.tolerations ?? []).map((t) => ({ ...t }));
  if (wantsGpu(ps)) {
    const key = ps.spec.resources?.gpu?.resourceName ?? 'nvidia.com/gpu';
    // GPU nodes are commonly tainted with the resource name; tolerate it unless the user did.
    if (!out.some((t) => t.key === key)) out.push({ key, operator: 'Exists', effect: 'NoSchedule' });
  }
  return out;
}

/** The sidecar's TLS mode from spec.tls: on by default, off, or mutual (client certificates required). */
function buildArgs(ps: PaddleService): string[] {
  if (ps.spec.tls?.enabled === false) return [SIDECAR_ARGS.noTls];
  if (ps.spec.tls?.mutual === true) return [SIDECAR_ARGS.mutualTls];
  return [];
}

export function buildDeployment(ps: PaddleService, cfg: OperatorConfig, inputs: DeploymentInputs): V1Deployment {
  const rt = must(ps.spec.runtime, 'spec.runtime');
  const names = childNames(nameOf(ps));
  const { volumes, mounts } = buildVolumes(ps);
  const probes = buildProbes();
  const tlsOn = ps.spec.tls?.enabled !== false;

  const nodeSelector: Record<string, string> = { ...(ps.spec.resources?.nodeSelector ?? {}) };
  const product = ps.spec.resources?.gpu?.product;
  if (wantsGpu(ps) && product) nodeSelector[GPU_PRODUCT_LABEL] = product;

  const container: V1Container = {
    name: CONTAINER_NAME,
    image: rt.image ?? cfg.sidecarImage,
    imagePullPolicy: must(rt.imagePullPolicy, 'spec.runtime.imagePullPolicy'),
    ports: [
      { name: tlsOn ? 'https' : 'http', containerPort: PORTS.serving, protocol: 'TCP' },
      { name: 'metrics', containerPort: PORTS.metrics, protocol: 'TCP' },
      { name: HEALTH_PORT_NAME, containerPort: PORTS.health, protocol: 'TCP' },
      { name: 'grpc', containerPort: PORTS.grpc, protocol: 'TCP' },
    ],
    args: buildArgs(ps),
    env: buildEnv(ps),
    resources: buildResources(ps),
    volumeMounts: mounts,
    livenessProbe: probes.liveness,
    readinessProbe: probes.readiness,
    startupProbe: probes.startup,
    securityContext: CONTAINER_SECURITY,
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  const byName = (n: string) => mounts.find((m) => m.name === n);
  const fetch = fetchesModel(ps)
    ? buildModelFetch(ps, container.image ?? '', container.imagePullPolicy ?? 'IfNotPresent', CONTAINER_SECURITY, {
        model: must(byName('model'), 'the model mount'),
        tmp: must(byName('tmp'), 'the tmp mount'),
        ...(byName('verify-key') ? { key: byName('verify-key') } : {}),
      })
    : undefined;

  const affinity = ps.spec.resources?.affinity;
  const tolerations = buildTolerations(ps);
  const template: V1PodTemplateSpec = {
    metadata: {
      labels: { ...commonLabels(ps), 'app.kubernetes.io/component': 'serving' },
      annotations: { [ANNOTATIONS.configHash]: inputs.restartHash },
    },
    spec: {
      serviceAccountName: names.serviceAccount,
      automountServiceAccountToken: true,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 30,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUN_AS_USER,
        runAsGroup: RUN_AS_USER,
        fsGroup: RUN_AS_USER,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
      ...(tolerations.length > 0 ? { tolerations } : {}),
      ...(affinity ? { affinity: affinity as V1Affinity } : {}),
      ...(fetch ? { initContainers: [fetch.container] } : {}),
      containers: [container],
      volumes: [...volumes, ...(fetch?.volumes ?? [])],
    },
  };
  // The hash covers everything else in the template, so any change that rolls the pods changes it.
  (template.metadata as { labels: Record<string, string> }).labels[TEMPLATE_HASH_LABEL] = hashOf(template);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMeta(ps, names.deployment, 'serving'),
    spec: {
      replicas: inputs.replicas,
      revisionHistoryLimit: 3,
      selector: { matchLabels: selectorLabels(ps) },
      // Never below ready capacity: a new pod must be ready before an old one goes.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template,
    },
  };
}
