// Pods whose model container the kernel killed for exceeding its memory limit (the cgroup limit
// is spec.runtime.maxMemoryMB). Read from the pods' container statuses, which the pod cache keeps
// for this (cache-transform.ts), so the PaddleService status can say OOMKilled instead of a
// bare "not ready".

import type { V1Pod } from '@kubernetes/client-node';

export interface MemoryKill {
  pod: string;
  /** The container's restart count (the kills so far, at least one). */
  restarts: number;
}

const OOM = 'OOMKilled';

/** Live pods whose container `container` last (or now) terminated OOMKilled. */
export function memoryKills(pods: readonly V1Pod[], container: string): MemoryKill[] {
  const out: MemoryKill[] = [];
  for (const p of pods) {
    if (p.metadata?.deletionTimestamp) continue;
    const cs = p.status?.containerStatuses?.find((c) => c.name === container);
    if (!cs) continue;
    if (cs.state?.terminated?.reason === OOM || cs.lastState?.terminated?.reason === OOM) {
      out.push({ pod: p.metadata?.name ?? '', restarts: cs.restartCount ?? 0 });
    }
  }
  return out.sort((a, b) => a.pod.localeCompare(b.pod));
}

/** The Ready=False blocker for memory kills, or undefined when none. */
export function memoryKillBlocker(kills: readonly MemoryKill[], maxMemoryMB: number | undefined): { reason: string; message: string } | undefined {
  const first = kills[0];
  if (!first) return undefined;
  const more = kills.length > 1 ? ` (and ${kills.length - 1} more pod${kills.length > 2 ? 's' : ''})` : '';
  return {
    reason: OOM,
    message:
      `pod ${first.pod}${more}: the kernel killed the model container for exceeding its memory limit ` +
      `(spec.runtime.maxMemoryMB=${maxMemoryMB ?? '?'}), ${first.restarts} restart${first.restarts === 1 ? '' : 's'}; ` +
      'the model needs more memory than the limit allows',
  };
}
