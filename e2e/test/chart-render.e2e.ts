// The chart's manifests, with the default values and with every option set, accepted by the
// real API server (kubectl apply --dry-run=server, strict field validation) in a namespace
// that enforces the restricted Pod Security Standard, with no warning.
import assert from 'node:assert/strict';
import { ALL_OPTIONS_VALUES, renderText } from '../../charts/test/lib/chart.js';
import { installMonitoringStandins, removeMonitoringStandins } from '../../charts/test/lib/standins.js';
import { kubectl, makeClients, useTestNamespace, type Clients } from '../src/index.js';

const PSS_LABELS = ['pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted', 'pod-security.kubernetes.io/audit=restricted'];

async function dryRun(manifests: string, namespace: string): Promise<{ code: number; stdout: string; stderr: string }> {
  // Server-side apply, as helm 3 and GitOps tools write: the API server validates every object
  // (strict field validation) and runs admission, Pod Security included, without persisting.
  return kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=chart-dry-run', '--dry-run=server', '--validate=strict', '-n', namespace, '-f', '-'], {
    input: manifests,
    allowFailure: true,
  });
}

describe('chart manifests validated by the API server (server-side dry-run)', function () {
  this.timeout(600_000); // a bound on a hang on a loaded machine, not an expected duration
  let clients: Clients;
  let standins: string[] = [];
  before(async () => {
    clients = makeClients();
    standins = await installMonitoringStandins(kubectl);
  });
  after(async () => {
    await removeMonitoringStandins(kubectl, standins);
  });
  const ns = useTestNamespace(() => clients, 'chart-render');
  beforeEach(async () => {
    await kubectl(['label', 'namespace', ns.name, ...PSS_LABELS]);
  });

  const cases: [string, () => string][] = [
    ['the default values', () => renderText({ namespace: ns.name, release: 'paddle-operator' })],
    [
      'every option set',
      () =>
        renderText({
          namespace: ns.name,
          release: 'paddle-operator',
          valuesFiles: [ALL_OPTIONS_VALUES],
          set: {
            'leaderElection.namespace': ns.name,
            'metrics.serviceMonitor.namespace': ns.name,
            'metrics.podMonitor.namespace': ns.name,
            'metrics.prometheusRule.namespace': ns.name,
          },
        }),
    ],
  ];

  for (const [name, render] of cases) {
    it(`accepts every object rendered with ${name}, with no Pod Security warning`, async () => {
      const manifests = render();
      const r = await dryRun(manifests, ns.name);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /Warning/i, r.stderr);
      const kinds = r.stdout.trim().split('\n').map((l) => l.split(/[/ ]/)[0]);
      assert.ok(kinds.length >= 9, `expected every object in kubectl's output, got:\n${r.stdout}`);
      assert.ok(r.stdout.includes('(server dry run)'), r.stdout);
    });
  }

  it('the check can fail: the server warns about a privileged container and refuses an unknown field', async () => {
    const privileged = renderText({ namespace: ns.name, set: { 'containerSecurityContext.privileged': true, 'containerSecurityContext.allowPrivilegeEscalation': true } });
    const warned = await dryRun(privileged, ns.name);
    assert.match(warned.stderr, /would violate PodSecurity "restricted/, warned.stderr);
    const unknownField = renderText({ namespace: ns.name, set: { 'containerSecurityContext.runAsNonRot': true } });
    const refused = await dryRun(unknownField, ns.name);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /runAsNonRot/);
    const badDuration = renderText({ namespace: ns.name, set: { 'metrics.prometheusRule.enabled': true } }).replace('for: 5m', 'for: 5 minutes');
    const refusedRule = await dryRun(badDuration, ns.name);
    assert.notEqual(refusedRule.code, 0);
    assert.match(refusedRule.stderr, /PrometheusRule/);
  });
});
