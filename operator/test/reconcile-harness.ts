// The reconciler over the in-process FakeApi, with the helpers its tests share: a setup that
// seeds a PaddleService and its Secret, and stand-ins for the Deployment controller and kubelets.

import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { Condition, PaddleService } from '../../crds/src/index.js';
import { DEFAULT_OPERATOR_CONFIG, TEMPLATE_HASH_LABEL, type OperatorConfig } from '../src/builders/index.js';
import type { EventRecorder } from '../src/events.js';
import { Reconciler } from '../src/reconciler.js';
import { FakeApi } from './fake-api.js';
import { FakeClock } from './fake-clock.js';
import { loadExample } from './fixtures.js';
import { NOW } from './reports.js';

const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined };

export function setup(ps: PaddleService, config: OperatorConfig = DEFAULT_OPERATOR_CONFIG) {
  const api = new FakeApi();
  const clock = new FakeClock(NOW);
  const events: Array<{ type: string; reason: string; message: string }> = [];
  const recorder: EventRecorder = { record: async (_ps, type, reason, message) => void events.push({ type, reason, message }) };
  api.put(ps as unknown as KubernetesObject);
  api.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'model-signing-key', namespace: 'ml' } });
  const reconciler = new Reconciler({ client: api, caches: api.caches(), config, clock, events: recorder, log: quiet });
  const key = `${ps.metadata.namespace}/${ps.metadata.name}`;
  const status = () => (api.find('PaddleService', 'ml', ps.metadata.name ?? '') as unknown as PaddleService).status;
  const ready = (): Condition | undefined => status()?.conditions?.find((c) => c.type === 'Ready');
  return { api, clock, events, reconciler, key, status, ready };
}

export function raw(file: string): PaddleService {
  const ps = loadExample(file);
  return { ...ps, apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService' };
}

/** Stands in for the Deployment controller + kubelets: marks the Deployment fully available. */
export function markAvailable(api: FakeApi, name: string): void {
  const d = api.find('Deployment', 'ml', name) as V1Deployment;
  const n = d.spec?.replicas ?? 0;
  api.objects.set(FakeApi.key('Deployment', 'ml', name), {
    ...d,
    status: { replicas: n, readyReplicas: n, availableReplicas: n, conditions: [{ type: 'Available', status: 'True' }] },
  } as KubernetesObject);
}

/** Stands in for cert-manager: marks the PaddleService's Certificate Ready (a write, so a new resourceVersion). */
export function markCertificateReady(api: FakeApi, name: string): void {
  const cert = api.find('Certificate', 'ml', name) as KubernetesObject;
  api.put({ ...cert, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready' }] } } as KubernetesObject);
}

/** Pod reports as the pods' sidecars leave them in the PaddleService's status (in place, as the other status fields are). */
export function putReports(api: FakeApi, name: string, reports: NonNullable<NonNullable<PaddleService['status']>['podReports']>): void {
  const ps = api.find('PaddleService', 'ml', name) as unknown as PaddleService;
  ps.status = { ...ps.status, podReports: reports };
}

/** Pods as the Deployment's ReplicaSet makes them: the template's labels (its template hash unless `template` names another). */
export function addPods(api: FakeApi, instance: string, names: string[], template?: string): void {
  const d = api.find('Deployment', 'ml', instance) as V1Deployment | undefined;
  const hash = template ?? d?.spec?.template.metadata?.labels?.[TEMPLATE_HASH_LABEL] ?? '';
  for (const name of names) {
    api.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'ml', labels: { 'app.kubernetes.io/name': 'paddle-service', 'app.kubernetes.io/instance': instance, [TEMPLATE_HASH_LABEL]: hash } },
    });
  }
}

