import assert from 'node:assert/strict';
import type { V1Container, V1Deployment, V1Volume } from '@kubernetes/client-node';
import { ENV, HTTP_PATHS, PATHS, PORTS, SIDECAR_ARGS, type PaddleService, type SidecarConfig } from '../../crds/src/index.js';
import {
  ANNOTATIONS,
  buildCertificate,
  buildChildren,
  buildConfigMap,
  buildDeployment,
  buildPodDisruptionBudget,
  buildRole,
  buildRoleBinding,
  buildService,
  buildServiceAccount,
  buildSidecarConfig,
  computeRestartHash,
  DEFAULT_OPERATOR_CONFIG,
  GPU_PRODUCT_LABEL,
  hashOf,
  serviceUrl,
} from '../src/builders/index.js';
import { InvalidSpecError } from '../src/errors.js';
import { loadExample, variant } from './fixtures.js';

const cfg = DEFAULT_OPERATOR_CONFIG;

function deploy(ps = loadExample('gpu.yaml'), replicas = 2): V1Deployment {
  return buildDeployment(ps, cfg, { replicas, restartHash: 'h1' });
}

function container(d: V1Deployment): V1Container {
  const c = d.spec?.template.spec?.containers[0];
  assert.ok(c, 'one container');
  return c;
}

function volume(d: V1Deployment, name: string): V1Volume | undefined {
  return d.spec?.template.spec?.volumes?.find((v) => v.name === name);
}

function envOf(c: V1Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

describe('builders', () => {
  describe('every child', () => {
    it('carries the owner reference (controller) and the managed labels', () => {
      const ps = loadExample('gpu.yaml');
      const { objects } = buildChildren(ps, cfg, { replicas: 2 });
      assert.deepEqual(
        objects.map((o) => o.kind),
        ['ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'Certificate', 'Service', 'Deployment', 'PodDisruptionBudget'],
      );
      for (const o of objects) {
        assert.equal(o.metadata?.namespace, 'ml', o.kind);
        assert.deepEqual(o.metadata?.ownerReferences, [
          {
            apiVersion: 'serving.paddle.io/v1alpha1',
            kind: 'PaddleService',
            name: 'ernie-encoder',
            uid: '0b3c6f0e-1111-4c3a-9d7e-6a1f1d2e3f40',
            controller: true,
            blockOwnerDeletion: true,
          },
        ]);
        assert.equal(o.metadata?.labels?.['app.kubernetes.io/managed-by'], 'paddle-operator', o.kind);
        assert.equal(o.metadata?.labels?.['app.kubernetes.io/instance'], 'ernie-encoder', o.kind);
      }
    });

    it('without TLS there is no Certificate', () => {
      const ps = variant('minimal.yaml', (p) => (p.spec.tls = { enabled: false }));
      const kinds = buildChildren(ps, cfg, { replicas: 1 }).objects.map((o) => o.kind);
      assert.ok(!kinds.includes('Certificate'));
    });

    it('is deterministic: the same spec builds byte-identical children', () => {
      const a = buildChildren(loadExample('gpu.yaml'), cfg, { replicas: 3 });
      const b = buildChildren(loadExample('gpu.yaml'), cfg, { replicas: 3 });
      assert.equal(hashOf(a.objects), hashOf(b.objects));
    });

    it("the pod template's hash does not depend on replicas or breaker tuning (a reconcile takes it from the children it builds)", () => {
      for (const file of ['minimal.yaml', 'gpu.yaml']) {
        const hashes = new Set<string>();
        for (const replicas of [0, 1, 2, 7]) {
          for (const tuning of [undefined, { baselineP95Ms: 12.5 }, { baselineP95Ms: 300 }]) {
            const built = buildChildren(loadExample(file), cfg, { replicas, ...(tuning ? { tuning } : {}) });
            assert.match(built.templateHash, /^[0-9a-f]{16}$/);
            hashes.add(built.templateHash);
          }
        }
        assert.equal(hashes.size, 1, file);
      }
      // ... and does depend on the spec (a new model rolls the pods).
      const other = variant('minimal.yaml', (p) => (p.spec.model.name = 'other'));
      assert.notEqual(buildChildren(other, cfg, { replicas: 1 }).templateHash, buildChildren(loadExample('minimal.yaml'), cfg, { replicas: 1 }).templateHash);
    });
  });

  describe('RBAC', () => {
    it('the pods may get/patch only their own PaddleService status', () => {
      const ps = loadExample('minimal.yaml');
      const role = buildRole(ps);
      assert.deepEqual(role.rules, [
        { apiGroups: ['serving.paddle.io'], resources: ['paddleservices/status'], resourceNames: ['mnist-mlp'], verbs: ['get', 'patch'] },
      ]);
      const rb = buildRoleBinding(ps);
      assert.deepEqual(rb.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata?.name });
      assert.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', name: 'mnist-mlp', namespace: 'ml' }]);
      assert.equal(buildServiceAccount(ps).metadata?.name, 'mnist-mlp');
    });
  });

  describe('Deployment', () => {
    it('GPU: limit and request on the spec resource name, product node selector, tolerations, affinity', () => {
      const d = deploy();
      const c = container(d);
      assert.equal(c.resources?.limits?.['nvidia.com/gpu'], '1');
      assert.equal(c.resources?.requests?.['nvidia.com/gpu'], '1');
      const pod = d.spec?.template.spec;
      assert.deepEqual(pod?.nodeSelector, { 'node-pool': 'inference', [GPU_PRODUCT_LABEL]: 'NVIDIA-A100-SXM4-80GB' });
      assert.deepEqual(pod?.tolerations, [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
      assert.equal(pod?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.weight, 100);
    });

    it('a custom GPU resource name is used and tolerated', () => {
      const ps = variant('gpu.yaml', (p) => {
        p.spec.resources = { ...p.spec.resources, gpu: { count: 2, resourceName: 'amd.com/gpu' }, tolerations: [] };
      });
      const c = container(deploy(ps));
      assert.equal(c.resources?.limits?.['amd.com/gpu'], '2');
      assert.equal(c.resources?.limits?.['nvidia.com/gpu'], undefined);
      assert.deepEqual(deploy(ps).spec?.template.spec?.tolerations, [{ key: 'amd.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
      assert.equal(deploy(ps).spec?.template.spec?.nodeSelector?.[GPU_PRODUCT_LABEL], undefined, 'no product: no product selector');
    });

    it('CPU device: no GPU limits, no product selector', () => {
      const d = deploy(loadExample('minimal.yaml'), 1);
      const c = container(d);
      assert.deepEqual(Object.keys(c.resources?.limits ?? {}), ['memory']);
      assert.equal(d.spec?.template.spec?.nodeSelector, undefined);
      assert.equal(d.spec?.template.spec?.tolerations, undefined);
    });

    const memTable: Array<[string, number | undefined, string]> = [
      // The API server stores quantities canonically (8192Mi reads back as 8Gi): write that form.
      ['default 2048 MB', undefined, '2Gi'],
      ['8192 MB', 8192, '8Gi'],
      ['3000 MB', 3000, '3000Mi'],
      ['64 MB', 64, '64Mi'],
    ];
    for (const [name, mb, expected] of memTable) {
      it(`memory limit from maxMemoryMB: ${name}`, () => {
        const ps = variant('minimal.yaml', (p) => {
          if (mb !== undefined) p.spec.runtime = { maxMemoryMB: mb };
        });
        const c = container(deploy(ps, 1));
        assert.equal(c.resources?.limits?.memory, expected);
        assert.equal(c.resources?.requests?.memory, expected, 'request defaults to the limit (Guaranteed memory)');
        assert.equal(envOf(c, ENV.maxMemoryMB), String(mb ?? 2048));
      });
    }

    it('CPU requests/limits from the spec; threads env from cpuThreads', () => {
      const c = container(deploy());
      assert.equal(c.resources?.requests?.cpu, '2');
      assert.equal(c.resources?.limits?.cpu, '4');
      assert.equal(c.resources?.requests?.memory, '4Gi');
      assert.equal(envOf(c, ENV.cpuThreads), '2');
      assert.equal(envOf(c, 'OMP_NUM_THREADS'), '2');
      const min = container(deploy(loadExample('minimal.yaml'), 1));
      assert.equal(min.resources?.requests?.cpu, '1', 'default request = cpuThreads (1)');
      assert.equal(min.resources?.limits?.cpu, undefined);
    });

    it('downward-API env and runtime env', () => {
      const c = container(deploy());
      const byName = new Map(c.env?.map((e) => [e.name, e]));
      assert.equal(byName.get(ENV.podName)?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
      assert.equal(byName.get(ENV.podNamespace)?.valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
      assert.equal(byName.get(ENV.serviceName)?.value, 'ernie-encoder');
      assert.equal(byName.get(ENV.backend)?.value, 'paddle');
      assert.equal(byName.get(ENV.device)?.value, 'gpu');
      assert.equal(byName.get(ENV.modelName)?.value, 'ernie-encoder');
      assert.equal(byName.get(ENV.modelFormat)?.value, 'pir');
      assert.equal(byName.get(ENV.requireSignature)?.value, 'true');
      assert.equal(byName.get(ENV.paddleVersion)?.value, '3.0.0');
    });

    it('image from the spec, else the operator default', () => {
      assert.equal(container(deploy()).image, 'registry.example.com/paddle-operator/paddle-sidecar:0.1.0');
      assert.equal(container(deploy(loadExample('minimal.yaml'))).image, cfg.sidecarImage);
    });

    describe('model source volumes', () => {
      it('PVC with subPath, read-only', () => {
        const d = deploy(loadExample('minimal.yaml'));
        assert.deepEqual(volume(d, 'model'), { name: 'model', persistentVolumeClaim: { claimName: 'models', readOnly: true } });
        const m = container(d).volumeMounts?.find((v) => v.name === 'model');
        assert.deepEqual(m, { name: 'model', mountPath: PATHS.modelDir, readOnly: true, subPath: 'mnist-mlp/v1' });
      });
      it('OCI image volume', () => {
        const v = volume(deploy(), 'model');
        assert.equal(v?.image?.reference?.startsWith('registry.example.com/models/ernie-encoder@sha256:'), true);
        assert.equal(v?.image?.pullPolicy, 'IfNotPresent');
      });
      it('ConfigMap (tiny models)', () => {
        const ps = variant('minimal.yaml', (p) => (p.spec.model.source = { configMap: { name: 'tiny-model' } }));
        assert.deepEqual(volume(deploy(ps), 'model'), { name: 'model', configMap: { name: 'tiny-model' } });
      });
      it('two sources -> InvalidSpecError', () => {
        const ps = variant('minimal.yaml', (p) => (p.spec.model.source = { configMap: { name: 'a' }, pvc: { claimName: 'b' } }));
        assert.throws(() => deploy(ps), InvalidSpecError);
      });
    });

    it('public key, TLS, config, auth and audit CA volumes mount at the pod-contract paths', () => {
      const d = deploy();
      const mounts = new Map(container(d).volumeMounts?.map((m) => [m.name, m.mountPath]));
      assert.equal(mounts.get('verify-key'), '/etc/paddle/verify');
      assert.deepEqual(volume(d, 'verify-key')?.secret?.items, [{ key: 'public.pem', path: 'public.pem' }]);
      assert.equal(volume(d, 'verify-key')?.secret?.secretName, 'model-signing-key');
      assert.equal(mounts.get('tls'), PATHS.tlsDir);
      assert.equal(volume(d, 'tls')?.secret?.secretName, 'ernie-encoder-tls');
      assert.equal(mounts.get('config'), '/etc/paddle/config');
      assert.deepEqual(volume(d, 'config')?.configMap, { name: 'ernie-encoder-config', items: [{ key: 'config.json', path: 'config.json' }] });
      assert.equal(mounts.get('auth'), PATHS.authDir);
      assert.equal(mounts.get('audit-ca'), '/etc/paddle/audit');
      assert.equal(mounts.get('tmp'), PATHS.tmpDir);
    });

    it('verification required without a key Secret -> InvalidSpecError; not required -> no key volume', () => {
      const missing = variant('minimal.yaml', (p) => (p.spec.model.verification = { required: true }));
      assert.throws(() => deploy(missing), /publicKeySecretRef/);
      const off = variant('minimal.yaml', (p) => (p.spec.model.verification = { required: false }));
      assert.equal(volume(deploy(off), 'verify-key'), undefined);
      assert.equal(envOf(container(deploy(off)), ENV.requireSignature), 'false');
    });

    const tlsArgsTable: Array<[string, (p: PaddleService) => void, string[]]> = [
      ['TLS (the sidecar default)', () => undefined, []],
      ['mutual TLS', (p) => (p.spec.tls = { ...p.spec.tls, mutual: true }), [SIDECAR_ARGS.mutualTls]],
      ['plain HTTP', (p) => (p.spec.tls = { enabled: false }), [SIDECAR_ARGS.noTls]],
    ];
    for (const [name, mutate, args] of tlsArgsTable) {
      it(`sidecar TLS mode from spec.tls as container args: ${name}`, () => {
        assert.deepEqual(container(deploy(variant('minimal.yaml', mutate))).args, args);
      });
    }

    // Every TLS mode probes the plain-HTTP health port (the two probe paths only): never the
    // metrics port, never the serving port (the kubelet has no client certificate for mTLS).
    const probeTable: Array<[string, (p: PaddleService) => void]> = [
      ['TLS', () => undefined],
      ['mutual TLS (kubelet has no client cert)', (p) => (p.spec.tls = { ...p.spec.tls, mutual: true })],
      ['plain HTTP', (p) => (p.spec.tls = { enabled: false })],
    ];
    const [port, scheme] = ['health', 'HTTP'];
    for (const [name, mutate] of probeTable) {
      it(`probes on the health port's probe paths: ${name}`, () => {
        const c = container(deploy(variant('minimal.yaml', mutate)));
        assert.deepEqual(c.ports?.find((p) => p.name === port), { name: port, containerPort: PORTS.health, protocol: 'TCP' });
        assert.deepEqual(c.livenessProbe?.httpGet, { path: HTTP_PATHS.live, port, scheme });
        assert.deepEqual(c.readinessProbe?.httpGet, { path: HTTP_PATHS.ready, port, scheme });
        assert.deepEqual(c.startupProbe?.httpGet, { path: HTTP_PATHS.live, port, scheme });
        assert.ok((c.startupProbe?.failureThreshold ?? 0) * (c.startupProbe?.periodSeconds ?? 0) >= 300, 'slow model loads get minutes');
      });
    }

    it('restricted security context', () => {
      const d = deploy();
      const c = container(d);
      assert.deepEqual(c.securityContext, {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      assert.equal(d.spec?.template.spec?.securityContext?.runAsNonRoot, true);
      assert.equal(d.spec?.template.spec?.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    });

    it('rollout never drops below ready capacity; replicas and config hash as given', () => {
      const d = buildDeployment(loadExample('gpu.yaml'), cfg, { replicas: 5, restartHash: 'abc' });
      assert.deepEqual(d.spec?.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
      assert.equal(d.spec?.replicas, 5);
      assert.equal(d.spec?.template.metadata?.annotations?.[ANNOTATIONS.configHash], 'abc');
      assert.deepEqual(d.spec?.selector.matchLabels, { 'app.kubernetes.io/name': 'paddle-service', 'app.kubernetes.io/instance': 'ernie-encoder' });
      assert.equal(d.spec?.template.metadata?.labels?.['serving.paddle.io/service'], 'ernie-encoder', 'the example affinity selects this label');
      assert.equal(d.spec?.template.spec?.serviceAccountName, 'ernie-encoder');
    });
  });

  describe('Service and Certificate', () => {
    it('Service exposes the serving, metrics and gRPC ports', () => {
      const svc = buildService(loadExample('gpu.yaml'));
      assert.deepEqual(svc.spec?.ports, [
        { name: 'https', port: PORTS.serving, targetPort: 'https', protocol: 'TCP' },
        { name: 'metrics', port: PORTS.metrics, targetPort: 'metrics', protocol: 'TCP' },
        { name: 'grpc', port: PORTS.grpc, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
      ]);
      assert.equal(serviceUrl(loadExample('gpu.yaml'), 'cluster.local'), 'https://ernie-encoder.ml.svc.cluster.local:8443');
    });

    const certTable: Array<[string, boolean, string[]]> = [
      ['server TLS', false, ['digital signature', 'key encipherment', 'server auth']],
      ['mutual TLS', true, ['digital signature', 'key encipherment', 'server auth', 'client auth']],
    ];
    for (const [name, mutual, usages] of certTable) {
      it(`Certificate usages: ${name}`, () => {
        const ps = variant('minimal.yaml', (p) => (p.spec.tls = { ...p.spec.tls, mutual }));
        const cert = buildCertificate(ps, 'cluster.local');
        assert.deepEqual(cert?.spec.usages, usages);
        assert.deepEqual(cert?.spec.dnsNames, ['mnist-mlp', 'mnist-mlp.ml', 'mnist-mlp.ml.svc', 'mnist-mlp.ml.svc.cluster.local']);
        assert.deepEqual(cert?.spec.issuerRef, { name: 'paddle-ca', kind: 'Issuer', group: 'cert-manager.io' });
        assert.equal(cert?.spec.secretName, 'mnist-mlp-tls');
      });
    }

    it('ClusterIssuer from the spec', () => {
      assert.deepEqual(buildCertificate(loadExample('gpu.yaml'), 'cluster.local')?.spec.issuerRef, {
        name: 'paddle-ca',
        kind: 'ClusterIssuer',
        group: 'cert-manager.io',
      });
    });

    it('TLS on without an issuer -> InvalidSpecError', () => {
      const ps = variant('minimal.yaml', (p) => (p.spec.tls = { enabled: true }));
      assert.throws(() => buildCertificate(ps, 'cluster.local'), InvalidSpecError);
    });
  });

  describe('ConfigMap (SidecarConfig)', () => {
    it('spec.queue: the defaults, maxInFlight from runtime.cpuThreads unless set', () => {
      assert.deepEqual(buildSidecarConfig(loadExample('minimal.yaml')).queue, { maxInFlight: 1, maxQueued: 128, maxQueueTimeMs: 1000 });
      const set = buildSidecarConfig(variant('minimal.yaml', (p) => ((p.spec.runtime = { ...p.spec.runtime, cpuThreads: 4 }), (p.spec.queue = { maxQueued: 8, maxQueueTimeMs: 250, maxInFlight: 2 }))));
      assert.deepEqual(set.queue, { maxInFlight: 2, maxQueued: 8, maxQueueTimeMs: 250 });
      assert.equal(buildSidecarConfig(variant('minimal.yaml', (p) => (p.spec.runtime = { ...p.spec.runtime, cpuThreads: 4 }))).queue.maxInFlight, 4);
    });

    it('defaults are the checklist numbers', () => {
      const c = buildSidecarConfig(loadExample('minimal.yaml'));
      assert.deepEqual(c.auth.policies, [
        { path: '/v2/models/{model}/infer', domain: 'model_inference', callsPerMinute: 60 },
        { path: '/v1/predict', domain: 'model_inference', callsPerMinute: 60 },
        { path: '/v1/encrypt_input', domain: 'data_protection', callsPerMinute: 20 },
        { path: '/v1/export_model', domain: 'model_admin', callsPerMinute: 5 },
      ]);
      assert.equal(c.breaker.latencyMultiplier, 1.8);
      assert.equal(c.breaker.errorRateThreshold, 0.05);
      assert.equal(c.breaker.consecutiveWindows, 3);
      assert.equal(c.breaker.windowSeconds, 10);
      assert.equal(c.breaker.failureThreshold, 10);
      assert.equal(c.breaker.treatmentFailureThreshold, 5);
      assert.deepEqual(c.breaker.recovery, {
        initialDelaySeconds: 1,
        maxDelaySeconds: 60,
        maxBackoffAttempts: 5,
        jitter: 0.1,
        requiredPasses: 2,
        passLatencyMs: 200,
        probeTimeoutMs: 500,
      });
      assert.equal(c.degradation.cpuShedWatermark, 0.95);
      assert.equal(c.degradation.gpuFallbackWatermark, 0.9);
      assert.equal(c.matrix.latencyBucketMs, 5);
      assert.equal(c.auth.hmacSecretFile, PATHS.hmacSecretFile);
      assert.equal(c.auth.jwksFile, undefined);
      assert.equal(c.breaker.baselineP95Ms, undefined, 'no fleet baseline yet');
    });

    it('secret references become mounted file paths; no Secret names reach the pod', () => {
      const c = buildSidecarConfig(loadExample('gpu.yaml'));
      assert.equal(c.auth.jwksFile, PATHS.jwksFile);
      assert.equal(c.audit?.caFile, PATHS.auditCaFile);
      assert.ok(!JSON.stringify(c).includes('siem-ca'));
      assert.ok(!JSON.stringify(c).includes('inference-jwks'));
      assert.deepEqual(c.cors.allowedOrigins, ['https://search.example.com', 'https://console.example.com:8443']);
      assert.equal(c.otlp?.endpoint, 'http://otel-collector.observability:4318');
    });

    it('tuned breaker baseline is published; the rendered file parses back to the config', () => {
      const ps = loadExample('gpu.yaml');
      const c = buildSidecarConfig(ps, { baselineP95Ms: 12.5 });
      assert.equal(c.breaker.baselineP95Ms, 12.5);
      const cm = buildConfigMap(ps, c);
      const parsed = JSON.parse(cm.data['config.json'] ?? '') as SidecarConfig;
      assert.deepEqual(parsed, JSON.parse(JSON.stringify(c)));
    });

    it('restart hash: hot-reloadable changes keep it, start-time settings change it', () => {
      const base = buildSidecarConfig(loadExample('gpu.yaml'));
      const tuned = buildSidecarConfig(loadExample('gpu.yaml'), { baselineP95Ms: 40 });
      const ratesChanged = buildSidecarConfig(variant('gpu.yaml', (p) => p.spec.auth?.policies?.[0] && (p.spec.auth.policies[0].callsPerMinute = 1)));
      const matrixChanged = buildSidecarConfig(variant('gpu.yaml', (p) => p.spec.observability?.matrix && (p.spec.observability.matrix.latencyBucketMs = 10)));
      assert.equal(computeRestartHash(tuned), computeRestartHash(base));
      assert.equal(computeRestartHash(ratesChanged), computeRestartHash(base));
      assert.notEqual(computeRestartHash(matrixChanged), computeRestartHash(base));
    });
  });

  it('PodDisruptionBudget: one pod at a time, selecting the model pods', () => {
    const pdb = buildPodDisruptionBudget(loadExample('gpu.yaml'));
    assert.equal(pdb.spec?.maxUnavailable, 1);
    assert.deepEqual(pdb.spec?.selector?.matchLabels, { 'app.kubernetes.io/name': 'paddle-service', 'app.kubernetes.io/instance': 'ernie-encoder' });
  });

  it('PodDisruptionBudget only where two or more pods may run (over one, a budget of one allows every eviction)', () => {
    const kinds = (ps: PaddleService, replicas: number) => buildChildren(ps, cfg, { replicas }).objects.map((o) => o.kind);
    const fixed = (n: number | undefined) => {
      const ps = loadExample('minimal.yaml');
      if (n === undefined) delete ps.spec.replicas;
      else ps.spec.replicas = n;
      delete ps.spec.autoscaling;
      return ps;
    };
    assert.equal(kinds(fixed(undefined), 1).includes('PodDisruptionBudget'), false, 'default: 1 replica');
    assert.equal(kinds(fixed(0), 0).includes('PodDisruptionBudget'), false, 'scaled to zero by hand');
    assert.equal(kinds(fixed(1), 1).includes('PodDisruptionBudget'), false);
    assert.equal(kinds(fixed(2), 2).includes('PodDisruptionBudget'), true);
    // An HPA on the scale subresource: what runs now counts too.
    assert.equal(kinds(fixed(1), 3).includes('PodDisruptionBudget'), true);
    // Autoscaling up to 2 or more: kept while the autoscaler holds it at 0 or 1 (no churn).
    const auto = loadExample('gpu.yaml');
    assert.ok(auto.spec.autoscaling && auto.spec.autoscaling.maxReplicas >= 2);
    assert.equal(kinds(auto, 0).includes('PodDisruptionBudget'), true);
    assert.equal(kinds(auto, 1).includes('PodDisruptionBudget'), true);
    auto.spec.autoscaling = { ...auto.spec.autoscaling, minReplicas: 1, maxReplicas: 1 };
    delete auto.spec.replicas;
    assert.equal(kinds(auto, 1).includes('PodDisruptionBudget'), false, 'autoscaling capped at one pod');
  });
});
