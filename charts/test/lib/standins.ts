// The monitoring.coreos.com test stand-in CRDs (charts/test/fixtures): installed for a suite
// when the cluster has no such CRDs, removed again afterwards.
import { readFileSync } from 'node:fs';
import * as yaml from 'js-yaml';
import { MONITORING_STANDIN_CRDS } from './chart.js';

type Kubectl = (args: string[], options?: { input?: string; allowFailure?: boolean; timeoutMs?: number }) => Promise<{ code: number; stdout: string; stderr: string }>;

function standinNames(): string[] {
  return (yaml.loadAll(readFileSync(MONITORING_STANDIN_CRDS, 'utf8')) as { metadata: { name: string } }[]).map((d) => d.metadata.name);
}

/** Installs the stand-ins that are missing; returns the names it installed (to remove later). */
export async function installMonitoringStandins(kubectl: Kubectl): Promise<string[]> {
  const installed: string[] = [];
  for (const name of standinNames()) {
    const r = await kubectl(['get', 'crd', name, '-o', 'jsonpath={.metadata.deletionTimestamp}'], { allowFailure: true });
    if (r.code !== 0) {
      installed.push(name);
    } else if (r.stdout.trim() !== '') {
      // Still terminating (an earlier suite removed it): objects of it cannot be created until it
      // is gone, so wait for that and install it afresh.
      await kubectl(['wait', '--for=delete', `crd/${name}`, '--timeout=300s'], { allowFailure: true, timeoutMs: 320_000 });
      installed.push(name);
    }
  }
  if (installed.length > 0) {
    const docs = (yaml.loadAll(readFileSync(MONITORING_STANDIN_CRDS, 'utf8')) as { metadata: { name: string } }[]).filter((d) => installed.includes(d.metadata.name));
    await kubectl(['apply', '--server-side', '-f', '-'], { input: docs.map((d) => yaml.dump(d)).join('---\n') });
    await kubectl(['wait', '--for', 'condition=Established', '--timeout', '180s', ...installed.map((n) => `crd/${n}`)], { timeoutMs: 200_000 });
  }
  return installed;
}

export async function removeMonitoringStandins(kubectl: Kubectl, names: string[]): Promise<void> {
  // Waits until they are gone, so the next suite finds either the CRDs or nothing, never a
  // terminating CRD that refuses creates.
  // (the bounds: a loaded machine's API server deletes slowly; they bound a hang, nothing more)
  if (names.length > 0) await kubectl(['delete', 'crd', '--ignore-not-found', '--wait=true', '--timeout=300s', ...names], { timeoutMs: 320_000 });
}
