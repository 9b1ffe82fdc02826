// Status while the fleet changes: a rollout (pods of two templates report), scale to zero, and an
// HPA next to spec.autoscaling. Pure: foldReports + computeStatus, no cluster.
import assert from 'node:assert/strict';
import type { V1Deployment } from '@kubernetes/client-node';
import type { Condition, PaddleService, PodReport } from '../../crds/src/index.js';
import { computeStatus, type StatusInputs } from '../src/status/compute-status.js';
import { foldReports } from '../src/status/fleet.js';
import { loadExample, variant } from './fixtures.js';
import { NOW, report } from './reports.js';

const gpu = loadExample('gpu.yaml');
const OLD = 'oldtemplate00001';
const NEW = 'newtemplate00002';

function deployment(replicas: number, available: number): V1Deployment {
  return {
    spec: { replicas },
    status: { replicas, readyReplicas: available, availableReplicas: available, conditions: [{ type: 'Available', status: 'True' }] },
  } as V1Deployment;
}

const certReady = { wanted: true as const, object: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'issued' }] } } };

function status(reports: Record<string, PodReport>, over: Partial<StatusInputs> & { oldPods?: string[]; ps?: PaddleService } = {}) {
  const ps = over.ps ?? gpu;
  const fleet = foldReports({
    reports,
    livePods: new Set(Object.keys(reports)),
    now: NOW,
    spec: ps.spec,
    templateHash: NEW,
    oldPods: new Set(over.oldPods ?? []),
  });
  return computeStatus({ ps, now: NOW, desiredReplicas: 3, deployment: deployment(3, 3), certificate: certReady, fleet, ...over });
}

function cond(conditions: Condition[] | undefined, type: string): Condition {
  const c = conditions?.find((x) => x.type === type);
  assert.ok(c, `condition ${type}`);
  return c;
}

const oldModel = { ...report().model, digest: 'sha256:old' };
const newModel = { ...report().model, digest: 'sha256:new' };

describe('status during a rollout (reports carry their pod template)', () => {
  it('old and new pods serving different digests is a rollout, not a DigestMismatch: Ready=True RollingOut, ModelVerified from the new pods', () => {
    const s = status({
      'old-1': report({ templateHash: OLD, model: oldModel }),
      'old-2': report({ templateHash: OLD, model: oldModel }),
      'new-1': report({ templateHash: NEW, model: newModel }),
    });
    const mv = cond(s.conditions, 'ModelVerified');
    assert.equal(mv.status, 'True', mv.message);
    assert.equal(s.model?.digest, 'sha256:new', 'the fleet model is the current template\'s');
    const ready = cond(s.conditions, 'Ready');
    assert.equal(ready.status, 'True');
    assert.equal(ready.reason, 'RollingOut');
    assert.match(ready.message, /1\/3 pods of the current template serve, 2 of 2 older pods still serve/);
  });

  it('pods without a hash in their report are told apart by their pod label', () => {
    const s = status(
      { 'old-1': report({ model: oldModel }), 'new-1': report({ model: newModel }), 'new-2': report({ model: newModel }) },
      { oldPods: ['old-1'] },
    );
    assert.equal(cond(s.conditions, 'ModelVerified').status, 'True');
    assert.equal(cond(s.conditions, 'Ready').reason, 'RollingOut');
  });

  it('once every pod runs the new template: Serving', () => {
    const s = status({ a: report({ templateHash: NEW, model: newModel }), b: report({ templateHash: NEW, model: newModel }), c: report({ templateHash: NEW, model: newModel }) });
    assert.equal(cond(s.conditions, 'Ready').reason, 'Serving');
  });

  it('a new pod that refuses the model is still a failure mid-rollout', () => {
    const s = status({
      'old-1': report({ templateHash: OLD, model: oldModel }),
      'new-1': report({ templateHash: NEW, ready: false, model: { ...newModel, verified: false }, message: 'signature does not verify' }),
    });
    assert.equal(cond(s.conditions, 'ModelVerified').reason, 'VerificationFailed');
    assert.equal(cond(s.conditions, 'Ready').reason, 'ModelNotVerified');
  });

  it('two digests among the current template\'s pods is still a DigestMismatch', () => {
    const s = status({ a: report({ templateHash: NEW, model: newModel }), b: report({ templateHash: NEW, model: oldModel }) });
    assert.equal(cond(s.conditions, 'ModelVerified').reason, 'DigestMismatch');
  });

  it('the baseline comes from the current template\'s pods (the new model may be slower)', () => {
    const fleet = foldReports({
      reports: {
        old: report({ templateHash: OLD, latency: { p95Ms: 10, baselineP95Ms: 10, samples: 100 } }),
        new: report({ templateHash: NEW, latency: { p95Ms: 40, baselineP95Ms: 40, samples: 100 } }),
      },
      livePods: undefined,
      now: NOW,
      spec: gpu.spec,
      templateHash: NEW,
    });
    assert.equal(fleet.latency?.baselineP95Ms, 40);
    assert.equal(fleet.latency?.p95Ms, 25, 'traffic figures count every pod');
    assert.equal(fleet.oldPods, 1);
  });
});

describe('status at zero replicas', () => {
  const zero = { desiredReplicas: 0, deployment: { spec: { replicas: 0 }, status: { replicas: 0 } } as V1Deployment };

  it('Ready=True reason ScaledToZero (as asked), Available=False reason ScaledToZero (nothing serves)', () => {
    const s = status({}, zero);
    const ready = cond(s.conditions, 'Ready');
    assert.equal(ready.status, 'True');
    assert.equal(ready.reason, 'ScaledToZero');
    assert.doesNotMatch(ready.message, /0\/0 pods serve/);
    const available = cond(s.conditions, 'Available');
    assert.equal(available.status, 'False');
    assert.equal(available.reason, 'ScaledToZero');
    assert.equal(s.replicasSummary, '0/0');
  });

  it('pods still stopping are named in the message', () => {
    const s = status({}, { ...zero, deployment: { spec: { replicas: 0 }, status: { replicas: 2 } } as V1Deployment });
    assert.match(cond(s.conditions, 'Ready').message, /2 pods still stopping/);
  });

  it('a problem still wins over ScaledToZero', () => {
    const s = status({}, { ...zero, blocker: { reason: 'InvalidSpec', message: 'bad' } });
    assert.equal(cond(s.conditions, 'Ready').reason, 'InvalidSpec');
  });
});

describe('AutoscalingConflict', () => {
  it('True with the HPA named when an HPA targets a PaddleService that sets spec.autoscaling', () => {
    assert.ok(gpu.spec.autoscaling, 'gpu.yaml sets spec.autoscaling');
    const s = status({}, { hpas: ['ernie-hpa'] });
    const c = cond(s.conditions, 'AutoscalingConflict');
    assert.equal(c.status, 'True');
    assert.equal(c.reason, 'HorizontalPodAutoscaler');
    assert.match(c.message, /HorizontalPodAutoscaler ernie-hpa targets this PaddleService, which also sets spec.autoscaling/);
  });

  it('False when the HPA is the only autoscaler, and when there is none', () => {
    const manual = variant('gpu.yaml', (ps) => {
      delete ps.spec.autoscaling;
    });
    assert.equal(cond(status({}, { ps: manual, hpas: ['h'] }).conditions, 'AutoscalingConflict').reason, 'ExternalAutoscaler');
    assert.equal(cond(status({}, { ps: manual, hpas: ['h'] }).conditions, 'AutoscalingConflict').status, 'False');
    assert.equal(cond(status({}).conditions, 'AutoscalingConflict').reason, 'NoConflict');
  });
});
