import assert from 'node:assert/strict';
import type { V1Deployment } from '@kubernetes/client-node';
import type { Condition, PaddleService, PodReport } from '../../crds/src/index.js';
import { mergeConditions } from '../src/status/conditions.js';
import { computeStatus, computeStatusPatch, type StatusInputs } from '../src/status/compute-status.js';
import { foldReports, staleAfterMs } from '../src/status/fleet.js';
import { loadExample, variant } from './fixtures.js';
import { NOW, report } from './reports.js';

const gpu = loadExample('gpu.yaml');

function fold(reports: Record<string, PodReport>, live?: string[], ps: PaddleService = gpu) {
  return foldReports({ reports, livePods: live ? new Set(live) : undefined, now: NOW, spec: ps.spec });
}

function deployment(available: number, desired: number): V1Deployment {
  return {
    status: {
      replicas: desired,
      readyReplicas: available,
      availableReplicas: available,
      conditions: [{ type: 'Available', status: available >= 1 ? 'True' : 'False' }],
    },
  } as V1Deployment;
}

const certReady = { wanted: true as const, object: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'issued' }] } } };

function inputs(over: Partial<StatusInputs> = {}): StatusInputs {
  const reports = { 'p-1': report(), 'p-2': report() };
  return {
    ps: gpu,
    now: NOW,
    desiredReplicas: 2,
    deployment: deployment(2, 2),
    certificate: certReady,
    fleet: fold(reports, ['p-1', 'p-2']),
    ...over,
  };
}

function cond(conditions: Condition[] | undefined, type: string): Condition {
  const c = conditions?.find((x) => x.type === type);
  assert.ok(c, `condition ${type}`);
  return c;
}

describe('status', () => {
  describe('mergeConditions', () => {
    it('lastTransitionTime moves only when the status changes', () => {
      const t0 = '2026-01-01T00:00:00.000Z';
      const t1 = '2026-01-01T00:05:00.000Z';
      const first = mergeConditions(undefined, [{ type: 'Ready', status: 'False', reason: 'A', message: 'a' }], 1, t0);
      assert.equal(first[0]?.lastTransitionTime, t0);
      const sameStatus = mergeConditions(first, [{ type: 'Ready', status: 'False', reason: 'B', message: 'b' }], 2, t1);
      assert.equal(sameStatus[0]?.lastTransitionTime, t0, 'reason change is not a transition');
      assert.equal(sameStatus[0]?.observedGeneration, 2);
      assert.equal(sameStatus[0]?.reason, 'B');
      const flipped = mergeConditions(sameStatus, [{ type: 'Ready', status: 'True', reason: 'Serving', message: '' }], 2, t1);
      assert.equal(flipped[0]?.lastTransitionTime, t1);
    });
  });

  describe('foldReports', () => {
    it('weights latency by samples, sums the matrix, ranks op types', () => {
      const f = fold({
        a: report({ latency: { p50Ms: 10, p95Ms: 20, p99Ms: 40, baselineP95Ms: 18, samples: 300 } }),
        b: report({ latency: { p50Ms: 30, p95Ms: 60, p99Ms: 80, baselineP95Ms: 22, samples: 100 }, opProfile: [{ op: 'conv2d', totalMs: 200 }] }),
      });
      assert.deepEqual(f.latency, { p50Ms: 15, p95Ms: 30, p99Ms: 50, baselineP95Ms: 19, samples: 400 });
      assert.equal(f.matrix?.total, 6);
      assert.deepEqual(f.matrix?.cells, [{ s: 0, d: 2, l: 0, count: 6 }]);
      assert.deepEqual(f.matrix?.seqLenEdges, [128, 256, 512, 1024, 2048]);
      assert.deepEqual(
        f.opProfile?.map((o) => [o.op, o.totalMs, o.share]),
        [
          ['conv2d', 200, 0.74],
          ['matmul', 60, 0.22],
          ['relu', 10, 0.04],
        ],
      );
      assert.equal(f.servingPods, 2);
      assert.equal(f.gpuMemoryUtilization, 0.4);
      assert.deepEqual(f.requests, { total: 200, errors: 2 });
    });

    it('skips matrices laid out differently from the spec', () => {
      const f = fold({ a: report(), b: report({ matrix: { gpuMemoryBucketMB: 512, latencyBucketMs: 5, seqLenEdges: [], total: 9, cells: [{ s: 1, d: 1, l: 1, count: 9 }] } }) });
      assert.equal(f.matrix?.total, 3);
    });

    it('prunes reports of pods that are gone, stale or malformed', () => {
      const stale = new Date(NOW - staleAfterMs(gpu.spec) - 1).toISOString();
      const f = fold(
        {
          alive: report(),
          gone: report(),
          old: report({ reportedAt: stale }),
          junk: { nonsense: true } as unknown as PodReport,
        },
        ['alive', 'old', 'junk'],
      );
      assert.deepEqual(f.reporting, ['alive']);
      assert.deepEqual(
        f.pruned.map((p) => `${p.pod}:${p.why}`).sort(),
        ['gone:gone', 'junk:malformed', 'old:stale'],
      );
    });

    it('without a pod list nothing is pruned as gone', () => {
      assert.deepEqual(fold({ a: report(), b: report() }).pruned, []);
    });

    const verdicts: Array<[string, Record<string, PodReport>, string, string]> = [
      ['no reports', {}, 'Unknown', 'AwaitingReports'],
      ['all agree', { a: report(), b: report() }, 'True', 'Verified'],
      ['digests disagree', { a: report(), b: report({ model: { ...report().model, digest: 'sha256:bbb' } }) }, 'False', 'DigestMismatch'],
      ['key ids disagree', { a: report(), b: report({ model: { ...report().model, keyId: 'k2' } }) }, 'False', 'KeyMismatch'],
      [
        'a pod refuses the model',
        { a: report(), b: report({ ready: false, model: { verified: false }, message: 'signature does not verify with the trusted key' }) },
        'False',
        'VerificationFailed',
      ],
    ];
    for (const [name, reports, status, reason] of verdicts) {
      it(`ModelVerified: ${name} -> ${status}/${reason}`, () => {
        const f = fold(reports);
        assert.equal(f.modelVerified.status, status);
        assert.equal(f.modelVerified.reason, reason);
      });
    }

    it('refusal message names the pod and the reason', () => {
      const f = fold({ b: report({ ready: false, model: { verified: false }, message: 'file model.pdiparams: digest mismatch' }) });
      assert.match(f.modelVerified.message, /b: file model.pdiparams: digest mismatch/);
      assert.equal(f.servingPods, 0);
    });

    it('device: GPU spec with a pod on CPU -> cpu-fallback and Degraded=CPUFallback', () => {
      const f = fold({ a: report(), b: report({ device: 'cpu', mode: 'cpu-fallback' }) });
      assert.equal(f.device, 'cpu-fallback');
      assert.equal(f.degraded.status, 'True');
      assert.equal(f.degraded.reason, 'CPUFallback');
      assert.equal(fold({ a: report() }).device, 'gpu');
      assert.equal(fold({ a: report() }).degraded.status, 'False');
      const cpu = loadExample('minimal.yaml');
      assert.equal(fold({}, undefined, cpu).device, 'cpu');
    });

    it('breaker: worst state wins; trips summed', () => {
      const f = fold({ a: report({ breaker: { state: 'open', trips: 2 } }), b: report({ breaker: { state: 'half-open', trips: 1 } }), c: report() });
      assert.deepEqual(f.breaker, { state: 'open', trips: 3, openPods: 1 });
      assert.equal(f.breakerOpen.status, 'True');
      assert.equal(fold({ a: report() }).breakerOpen.status, 'False');
    });
  });

  describe('computeStatus: honest Ready', () => {
    it('True only when Deployment available, Certificate ready and enough pods verified', () => {
      const s = computeStatus(inputs());
      assert.equal(cond(s.conditions, 'Ready').status, 'True');
      assert.equal(cond(s.conditions, 'Available').status, 'True');
      assert.equal(cond(s.conditions, 'CertificateReady').status, 'True');
      assert.equal(cond(s.conditions, 'ModelVerified').status, 'True');
      assert.equal(s.replicasSummary, '2/2');
      assert.equal(s.observedGeneration, 1);
      for (const c of s.conditions ?? []) assert.equal(c.observedGeneration, 1);
      assert.equal(s.device, 'gpu');
      assert.equal(s.latency?.p95Ms, 20);
      assert.equal(s.breaker?.state, 'closed');
    });

    const notReady: Array<[string, Partial<StatusInputs>, string]> = [
      ['invalid spec', { blocker: { reason: 'InvalidSpec', message: 'spec.x: bad' } }, 'InvalidSpec'],
      ['deployment missing', { deployment: undefined }, 'DeploymentUnavailable'],
      ['deployment 1/2 available', { deployment: deployment(1, 2) }, 'DeploymentUnavailable'],
      ['certificate not ready', { certificate: { wanted: true, object: { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Pending' }] } } } }, 'CertificateNotReady'],
      ['certificate missing', { certificate: { wanted: true } }, 'CertificateNotReady'],
      ['cert-manager missing', { certificate: { wanted: true, crdMissing: true } }, 'CertificateNotReady'],
      ['only 1 of 2 pods verified', { fleet: fold({ 'p-1': report() }, ['p-1', 'p-2']) }, 'AwaitingVerifiedPods'],
      ['self-check failing', { fleet: fold({ 'p-1': report(), 'p-2': report({ selfCheckPassed: false }) }) }, 'AwaitingVerifiedPods'],
      ['pods disagree on the digest', { fleet: fold({ 'p-1': report(), 'p-2': report({ model: { ...report().model, digest: 'sha256:x' } }) }) }, 'ModelNotVerified'],
    ];
    for (const [name, over, reason] of notReady) {
      it(`Ready=False when ${name} (${reason})`, () => {
        const ready = cond(computeStatus(inputs(over)).conditions, 'Ready');
        assert.equal(ready.status, 'False');
        assert.equal(ready.reason, reason);
        assert.ok(ready.message.length > 0, 'a message says why');
      });
    }

    it('TLS disabled: CertificateReady=True (TLSDisabled) and no Certificate needed', () => {
      const s = computeStatus(inputs({ certificate: { wanted: false } }));
      assert.equal(cond(s.conditions, 'CertificateReady').reason, 'TLSDisabled');
      assert.equal(cond(s.conditions, 'Ready').status, 'True');
    });

    it('verification disabled: Ready does not wait for verified models', () => {
      const ps = variant('gpu.yaml', (p) => (p.spec.model.verification = { required: false }));
      const reports = { 'p-1': report({ model: { verified: false } }), 'p-2': report({ model: { verified: false } }) };
      const s = computeStatus(inputs({ ps, fleet: foldReports({ reports, livePods: undefined, now: NOW, spec: ps.spec }) }));
      assert.equal(cond(s.conditions, 'ModelVerified').reason, 'VerificationDisabled');
      assert.equal(cond(s.conditions, 'Ready').status, 'True');
    });
  });

  describe('computeStatusPatch', () => {
    it('nothing changed -> no patch (a no-op reconcile writes nothing)', () => {
      const first = computeStatus(inputs());
      const ps = { ...gpu, status: { ...first, podReports: { 'p-1': report(), 'p-2': report() } } };
      const again = computeStatus(inputs({ ps, now: NOW + 60_000 }));
      assert.equal(computeStatusPatch(ps.status, again, []), undefined);
    });

    it('changed fields only; dropped fields become null; pruned reports become null', () => {
      const first = computeStatus(inputs());
      const current = { ...first, podReports: { 'p-1': report(), gone: report() } };
      const next = computeStatus(inputs({ ps: { ...gpu, status: current }, fleet: fold({ 'p-1': report() }, ['p-1']), desiredReplicas: 1, deployment: deployment(1, 1) }));
      delete next.latency;
      const patch = computeStatusPatch(current, next, ['gone', 'never-there']);
      assert.ok(patch);
      assert.equal(patch.status.latency, null);
      assert.deepEqual(patch.status.podReports, { gone: null });
      assert.equal(patch.status.replicasSummary, '1/1');
      assert.equal(patch.status.url, undefined, 'unchanged fields are not sent');
      assert.equal('conditions' in patch.status, true);
    });

    it('a nested key dropped from an object is nulled', () => {
      const cur = { breaker: { state: 'open' as const, trips: 1, openPods: 1, tunedAt: 'x' } };
      const next = { breaker: { state: 'closed' as const, trips: 1, openPods: 0 } };
      assert.deepEqual(computeStatusPatch(cur, next, [])?.status.breaker, { tunedAt: null, state: 'closed', openPods: 0 });
    });
  });
});

describe('status fits the CRD status schema (nothing the API server would prune)', () => {
  it('a full status validates against the CRD', async () => {
    const { validatePaddleService } = await import('../../crds/src/index.js');
    const s = computeStatus({
      ...inputs({ fleet: fold({ 'p-1': report(), 'p-2': report({ breaker: { state: 'open', trips: 1 } }) }, ['p-1', 'p-2']) }),
      autoscaling: { desiredReplicas: 2, reason: 'why', lastScaleTime: new Date(NOW).toISOString() },
      breakerThresholds: { p95Ms: 20, errorRate: 0.05, consecutiveWindows: 3, failureThreshold: 10, treatmentFailureThreshold: 5 },
      breakerTunedAt: new Date(NOW).toISOString(),
      url: 'https://x.ml.svc.cluster.local:8443',
      selector: 'a=b',
    });
    const obj = { apiVersion: 'serving.paddle.io/v1alpha1', kind: 'PaddleService', metadata: { name: 'x', namespace: 'ml' }, spec: gpu.spec, status: { ...s, podReports: { 'p-1': report() } } };
    const v = validatePaddleService(obj);
    assert.deepEqual(v.errors, []);
  });
});
