// The ModelFetched condition (s3 and https sources): how the pods' model-fetch init containers
// ended, from their termination messages (what `paddle-model fetch` wrote: the file it refused
// and why, or what it installed). One failing pod is enough to say False: its reason is the
// same for every pod reading the same objects, and the message names the pod and the file.

import type { V1ContainerStateTerminated, V1Pod } from '@kubernetes/client-node';
import { MODEL_FETCH, type PaddleService } from '../../../crds/src/index.js';
import type { ConditionInput } from './conditions.js';

/** Termination messages are bounded by the kubelet (4 KiB); keep the condition readable. */
const MESSAGE_LIMIT = 1024;

function clip(text: string): string {
  const t = text.trim();
  return t.length > MESSAGE_LIMIT ? `${t.slice(0, MESSAGE_LIMIT - 3)}...` : t;
}

/** undefined when the source is not downloaded by the pods (pvc, image, configMap). */
export function modelFetchCondition(ps: PaddleService, pods: readonly V1Pod[]): ConditionInput | undefined {
  const src = ps.spec.model.source;
  if (!src.s3 && !src.https) return undefined;
  let failed: { pod: string; t: V1ContainerStateTerminated } | undefined;
  let succeeded: { pod: string; t: V1ContainerStateTerminated } | undefined;
  for (const pod of pods) {
    const s = pod.status?.initContainerStatuses?.find((c) => c.name === MODEL_FETCH.container);
    if (!s) continue;
    const name = pod.metadata?.name ?? '';
    const now = s.state?.terminated;
    // A failed fetch restarts (the pod's restartPolicy): while it waits or runs again, the
    // last attempt's end is in lastState.
    const ended = now ?? (s.lastState?.terminated && !s.ready ? s.lastState.terminated : undefined);
    if (!ended) continue;
    if (ended.exitCode !== 0) failed ??= { pod: name, t: ended };
    else succeeded ??= { pod: name, t: ended };
  }
  if (failed) {
    const why = failed.t.message ? clip(failed.t.message) : `exit code ${failed.t.exitCode}${failed.t.reason ? ` (${failed.t.reason})` : ''}, no termination message`;
    return { type: 'ModelFetched', status: 'False', reason: 'ModelFetchFailed', message: `pod ${failed.pod}: ${why}` };
  }
  if (succeeded) return { type: 'ModelFetched', status: 'True', reason: 'Fetched', message: clip(succeeded.t.message ?? 'the model-fetch init container completed') };
  return { type: 'ModelFetched', status: 'Unknown', reason: 'Fetching', message: 'no pod has finished downloading the model yet' };
}
