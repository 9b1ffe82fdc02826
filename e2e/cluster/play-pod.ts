// play-pod: the kubelet's part for one model pod of the local cluster, whose kwok nodes run no
// containers. Waits for the PaddleService's pod to be Running on a kwok node, runs its init
// containers (the model-fetch `paddle-model fetch` for s3 / https sources: e2e/src/init-container.ts)
// and then a real sidecar process as its serving container (e2e/src/sidecar-pod.ts), on a
// loopback port the OS picks. Writes {"pod", "port", "serverName"} to --port-file once the
// sidecar serves, and stays until SIGTERM / SIGINT (then stops the sidecar).
//
//   npx tsx e2e/cluster/play-pod.ts --namespace NS --instance NAME --port-file FILE [--model-dir DIR]
//
// --model-dir is only for pvc / image / configMap sources (nothing here mounts those).
import { rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { makeClients, waitForValue } from '../src/index.js';
import { runInitContainersForPod } from '../src/init-container.js';
import { startSidecarForPod } from '../src/sidecar-pod.js';

const { values } = parseArgs({
  options: { namespace: { type: 'string' }, instance: { type: 'string' }, 'port-file': { type: 'string' }, 'model-dir': { type: 'string' } },
});
const namespace = values.namespace ?? 'default';
if (!values.instance || !values['port-file']) {
  console.error('usage: play-pod.ts --namespace NS --instance NAME --port-file FILE [--model-dir DIR]');
  process.exit(2);
}
const clients = makeClients();
const pods = await waitForValue(
  async () => (await clients.core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${values.instance}` })).items,
  (items: V1Pod[]) => items.length === 1 && items[0]?.status?.phase === 'Running' && Boolean(items[0]?.spec?.nodeName),
  300_000, // a bound on a hang (the operator, the scheduler and kwok on a loaded machine)
  `one Running pod of ${values.instance} on a kwok node`,
);
const pod = pods[0]?.metadata?.name ?? '';
const init = await runInitContainersForPod({ clients, namespace, pod });
for (const run of init.runs) console.log(`init container ${run.container} exited ${run.exitCode}: ${run.message}`);
const failed = init.runs.find((r) => r.exitCode !== 0);
if (failed) {
  console.error(`pod ${pod} does not start: init container ${failed.container} failed (the kubelet would retry it)\n${failed.output}`);
  rmSync(init.root, { recursive: true, force: true });
  process.exit(1);
}
const modelDir = init.volumes.model ?? values['model-dir'];
if (!modelDir) throw new Error('no init container filled the model volume: give --model-dir');
const sidecar = await startSidecarForPod({ clients, namespace, pod, modelDir });
writeFileSync(values['port-file'], JSON.stringify({ pod, port: sidecar.port, serverName: sidecar.serverName }));
console.log(`pod ${pod}: sidecar serving on 127.0.0.1:${sidecar.port} as ${sidecar.serverName}`);
const stop = async () => {
  await sidecar.dispose();
  rmSync(init.root, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
