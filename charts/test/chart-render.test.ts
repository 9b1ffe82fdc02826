// What the chart renders: the operator Deployment (leader election, probes, resources,
// restricted security context, topology spread), its identity and Services, and the values
// that change them. Server-side validation of the same output is in e2e/test/chart-*.e2e.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1ClusterRoleBinding, V1Deployment, V1PodDisruptionBudget, V1Role, V1Service } from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import { buildDeployment, DEFAULT_OPERATOR_CONFIG, resolvePaddleService } from '../../operator/src/builders/index.js';
import type { PaddleService } from '../../crds/src/index.js';
import { parseOptions } from '../../operator/src/main.js';
import { ALL_OPTIONS_VALUES, CHART_DIR, REPO_ROOT, helm, kubeVersion, only, render, type RenderedObject } from './lib/chart.js';

const as = <T>(o: RenderedObject): T => o as unknown as T;
const chart = yaml.load(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as Record<string, string>;
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

function container(d: V1Deployment) {
  const c = d.spec?.template.spec?.containers[0];
  assert.ok(c, 'the Deployment has a container');
  return c;
}

function arg(d: V1Deployment, name: string): string | undefined {
  const prefix = `--${name}=`;
  return container(d).args?.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

describe('chart Chart.yaml', () => {
  it('ties appVersion to the project version and states the Kubernetes versions it supports', () => {
    assert.equal(chart.appVersion, pkg.version);
    assert.match(chart.version ?? '', /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    assert.match(chart.kubeVersion ?? '', /^>=\s*1\.\d+\.\d+/);
  });
});

describe('chart defaults', () => {
  const objects = render();
  const deployment = as<V1Deployment>(only(objects, 'Deployment'));
  const pod = deployment.spec?.template.spec;
  const podLabels = deployment.spec?.template.metadata?.labels ?? {};

  it('runs 2 replicas with leader election on a Lease the chart can name', () => {
    assert.equal(deployment.spec?.replicas, 2);
    assert.equal(arg(deployment, 'leader-elect'), 'true');
    assert.equal(arg(deployment, 'lease-name'), 'paddle-operator-leader');
    assert.equal(arg(deployment, 'lease-namespace'), 'paddle-system');
    const env = container(deployment).env ?? [];
    assert.equal(env.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', 'leader identity is the pod name');
  });

  it('rolls out without dropping below the ready replicas and keeps one up during drains', () => {
    assert.equal(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable, 0);
    const pdb = as<V1PodDisruptionBudget>(only(objects, 'PodDisruptionBudget'));
    assert.equal(pdb.spec?.minAvailable, 1);
    assert.deepEqual(pdb.spec?.selector?.matchLabels, deployment.spec?.selector.matchLabels);
  });

  it('probes /healthz (liveness) and /readyz (readiness) on the ops port', () => {
    const c = container(deployment);
    const ops = c.ports?.find((p) => p.name === 'ops');
    assert.equal(ops?.containerPort, 8080);
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(c.livenessProbe?.httpGet?.port, 'ops');
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(c.readinessProbe?.httpGet?.port, 'ops');
  });

  it('passes arguments the operator accepts, meaning what the values say', () => {
    const opts = parseOptions(container(deployment).args ?? [], { POD_NAME: 'paddle-operator-abc', POD_NAMESPACE: 'paddle-system' });
    assert.equal(opts.leaderElect, true);
    assert.equal(opts.leaseName, 'paddle-operator-leader');
    assert.equal(opts.leaseNamespace, 'paddle-system');
    assert.equal(opts.opsPort, 8080);
    assert.equal(opts.identity, 'paddle-operator-abc');
    assert.equal(opts.config.sidecarImage, `paddle-sidecar:${pkg.version}`);
    assert.equal(opts.config.clusterDomain, 'cluster.local');
    assert.deepEqual([opts.leaseDurationSeconds, opts.renewDeadlineSeconds, opts.retryPeriodSeconds], [15, 10, 2]);
  });

  it('bounds the operator\'s memory: V8 heap flags (NODE_OPTIONS) and 2 malloc arenas (what bench/operator measures)', () => {
    const env = new Map((container(deployment).env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.get('NODE_OPTIONS'), '--max-old-space-size=128 --max-semi-space-size=8');
    assert.equal(env.get('MALLOC_ARENA_MAX'), '2');
  });

  it('sets CPU and memory requests and a memory limit', () => {
    const r = container(deployment).resources;
    assert.ok(r?.requests?.cpu && r.requests.memory && r.limits?.memory, JSON.stringify(r));
  });

  it('meets the restricted Pod Security Standard: non-root, no escalation, read-only root, no capabilities, RuntimeDefault seccomp', () => {
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    assert.ok((pod?.securityContext?.runAsUser ?? 0) > 0);
    assert.equal(pod?.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    const sc = container(deployment).securityContext;
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.deepEqual(sc?.capabilities?.drop, ['ALL']);
    assert.equal(sc?.capabilities?.add, undefined);
    assert.equal(sc?.privileged, undefined);
  });

  it('spreads the replicas over nodes and zones, selecting its own pods', () => {
    const spread = pod?.topologySpreadConstraints ?? [];
    assert.deepEqual(spread.map((t) => t.topologyKey).sort(), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const t of spread) {
      for (const [k, v] of Object.entries(t.labelSelector?.matchLabels ?? {})) assert.equal(podLabels[k], v, `spread selector ${k}`);
    }
  });

  it('runs the operator image of the appVersion and points PaddleServices at the sidecar image of the same version', () => {
    assert.equal(container(deployment).image, `paddle-operator:${pkg.version}`);
    assert.equal(arg(deployment, 'sidecar-image'), `paddle-sidecar:${pkg.version}`);
  });

  it('binds the ClusterRole to the ServiceAccount the pods run as', () => {
    const sa = only(objects, 'ServiceAccount');
    assert.equal(pod?.serviceAccountName, sa.metadata.name);
    const crb = as<V1ClusterRoleBinding>(only(objects, 'ClusterRoleBinding'));
    assert.equal(crb.roleRef.name, only(objects, 'ClusterRole').metadata.name);
    assert.deepEqual(crb.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'paddle-system' }]);
  });

  it('scopes the Lease Role to the Lease the operator is told to use', () => {
    const role = as<V1Role>(only(objects, 'Role'));
    assert.equal(role.metadata?.namespace, arg(deployment, 'lease-namespace'));
    const named = role.rules?.find((r) => r.resourceNames);
    assert.deepEqual(named?.resourceNames, [arg(deployment, 'lease-name')]);
  });

  it('exposes /metrics through a Service whose selector and target port match the pods', () => {
    const svc = as<V1Service>(only(objects, 'Service'));
    for (const [k, v] of Object.entries(svc.spec?.selector ?? {})) assert.equal(podLabels[k], v, `Service selector ${k}`);
    assert.equal(svc.spec?.ports?.[0]?.targetPort, 'ops');
    assert.ok(container(deployment).ports?.some((p) => p.name === 'ops'));
  });

  it('renders no Prometheus Operator objects unless asked', () => {
    assert.deepEqual(objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/')), []);
  });
});

describe('chart with every option set', () => {
  const objects = render({ valuesFiles: [ALL_OPTIONS_VALUES], set: { 'leaderElection.namespace': 'ops-leases' } });
  const deployment = as<V1Deployment>(only(objects, 'Deployment'));

  it('passes arguments the operator accepts', () => {
    const args = (container(deployment).args ?? []).map((a) => a.replace('$(POD_NAME)', 'pod-1'));
    const opts = parseOptions(args, { POD_NAME: 'pod-1', POD_NAMESPACE: 'paddle-system' });
    assert.equal(opts.workers, 8);
    assert.equal(opts.resyncSeconds, 600);
    assert.equal(opts.opsPort, 9443);
    assert.equal(opts.logLevel, 'debug');
    assert.equal(opts.leaseName, 'paddle-operator-lock');
  });

  it('passes the Node.js flags, malloc arenas and extra environment, each once', () => {
    const env = container(deployment).env ?? [];
    const byName = new Map(env.map((e) => [e.name, e.value]));
    assert.equal(byName.get('NODE_OPTIONS'), '--max-old-space-size=384');
    assert.equal(byName.get('MALLOC_ARENA_MAX'), '4');
    assert.equal(byName.get('TZ'), 'UTC');
    assert.equal(byName.size, env.length, 'no variable twice (server-side apply refuses duplicate keys)');
  });

  it('pins images by digest and passes the operator settings', () => {
    assert.match(container(deployment).image ?? '', /^registry\.example\.com:5000\/ml\/paddle-operator@sha256:[0-9a-f]{64}$/);
    assert.match(arg(deployment, 'sidecar-image') ?? '', /^registry\.example\.com:5000\/ml\/paddle-sidecar@sha256:[0-9a-f]{64}$/);
    assert.equal(arg(deployment, 'ops-port'), '9443');
    assert.equal(arg(deployment, 'cluster-domain'), 'k8s.example.internal');
    assert.equal(deployment.spec?.replicas, 3);
  });

  it('puts the Lease Role in the Lease namespace', () => {
    const role = as<V1Role>(only(objects, 'Role'));
    assert.equal(role.metadata?.namespace, 'ops-leases');
    assert.equal(arg(deployment, 'lease-namespace'), 'ops-leases');
  });

  it('uses the verbatim topology spread constraints instead of the generated ones', () => {
    const spread = deployment.spec?.template.spec?.topologySpreadConstraints ?? [];
    assert.equal(spread.length, 1);
    assert.equal(spread[0]?.whenUnsatisfiable, 'DoNotSchedule');
  });

  it('renders the ServiceMonitor, PodMonitor and PrometheusRule', () => {
    for (const kind of ['ServiceMonitor', 'PodMonitor', 'PrometheusRule']) assert.equal(only(objects, kind).metadata.labels?.release, 'kube-prometheus-stack');
  });

  it('the ServiceMonitor selects the metrics Service by its labels and port name', () => {
    const sm = only(objects, 'ServiceMonitor') as RenderedObject & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] } };
    const svc = as<V1Service>(only(objects, 'Service'));
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata?.labels?.[k], v, `ServiceMonitor selector ${k}`);
    assert.equal(svc.spec?.ports?.[0]?.name, sm.spec.endpoints[0]?.port);
  });

  it('the PodMonitor selects the model pods the operator builds, on their metrics port', () => {
    const example = yaml.load(readFileSync(join(REPO_ROOT, 'examples', 'minimal.yaml'), 'utf8')) as PaddleService;
    example.metadata = { ...example.metadata, namespace: 'ml', uid: '00000000-0000-4000-8000-000000000001', generation: 1 };
    const modelDeployment = buildDeployment(resolvePaddleService(example), DEFAULT_OPERATOR_CONFIG, { replicas: 1, restartHash: 'x' });
    const podMonitor = only(objects, 'PodMonitor') as RenderedObject & {
      spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string }[]; namespaceSelector: { any: boolean } };
    };
    const labels = modelDeployment.spec?.template.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(podMonitor.spec.selector.matchLabels)) assert.equal(labels[k], v, `PodMonitor selector ${k}`);
    const ports = modelDeployment.spec?.template.spec?.containers.flatMap((c) => c.ports ?? []) ?? [];
    assert.ok(ports.some((p) => p.name === podMonitor.spec.podMetricsEndpoints[0]?.port), 'the model pods have the port the PodMonitor scrapes');
    assert.equal(podMonitor.spec.namespaceSelector.any, true);
  });
});

describe('chart refuses unsafe combinations', () => {
  const fails = (set: string[]): string => {
    const r = helm(['template', 'x', CHART_DIR, '--kube-version', kubeVersion(), ...set.flatMap((s) => ['--set', s])]);
    assert.notEqual(r.code, 0, `helm template --set ${set.join(',')} should fail`);
    return r.stderr;
  };

  it('more than one replica without leader election', () => {
    assert.match(fails(['replicaCount=2', 'leaderElection.enabled=false']), /leaderElection/);
  });

  it('a renew deadline not shorter than the lease', () => {
    assert.match(fails(['leaderElection.renewDeadlineSeconds=15']), /renewDeadlineSeconds/);
  });

  it('an existing ServiceAccount without a name', () => {
    assert.match(fails(['serviceAccount.create=false']), /serviceAccount\.name/);
  });

  it('a ServiceMonitor without the metrics Service', () => {
    assert.match(fails(['metrics.serviceMonitor.enabled=true', 'metrics.service.enabled=false']), /metrics\.service\.enabled/);
  });

  it('an existing ServiceAccount: none rendered, the pods and both bindings use the named one', () => {
    const objects = render({ set: { 'serviceAccount.create': false, 'serviceAccount.name': 'platform-operator' } });
    assert.equal(objects.filter((o) => o.kind === 'ServiceAccount').length, 0);
    assert.equal(as<V1Deployment>(only(objects, 'Deployment')).spec?.template.spec?.serviceAccountName, 'platform-operator');
    for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
      assert.equal((only(objects, kind) as RenderedObject & V1ClusterRoleBinding).subjects?.[0]?.name, 'platform-operator', kind);
    }
  });

  it('rbac.create=false renders no RBAC objects', () => {
    const objects = render({ set: { 'rbac.create': false } });
    assert.deepEqual(objects.filter((o) => o.apiVersion.startsWith('rbac.authorization.k8s.io/')).map((o) => o.kind), []);
  });

  it('namespaceOverride moves every namespaced object', () => {
    const objects = render({ set: { namespaceOverride: 'ml-platform' } });
    const namespaced = objects.filter((o) => !['CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind));
    assert.ok(namespaced.length >= 5);
    for (const o of namespaced) assert.equal(o.metadata.namespace, 'ml-platform', `${o.kind}/${o.metadata.name}`);
  });

  it('one replica with leader election off renders, without a PodDisruptionBudget or Lease Role', () => {
    const objects = render({ set: { replicaCount: 1, 'leaderElection.enabled': false } });
    assert.equal(objects.filter((o) => o.kind === 'PodDisruptionBudget' || o.kind === 'Role').length, 0);
    assert.equal(arg(as<V1Deployment>(only(objects, 'Deployment')), 'leader-elect'), 'false');
  });
});
