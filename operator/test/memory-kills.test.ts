import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { memoryKillBlocker, memoryKills } from '../src/status/memory-kills.js';

function pod(name: string, cs: NonNullable<V1Pod['status']>['containerStatuses'], deleting = false): V1Pod {
  return { metadata: { name, ...(deleting ? { deletionTimestamp: new Date(0) } : {}) }, status: { containerStatuses: cs } };
}
const base = { image: 'i', imageID: '', ready: false };

describe('memory kills (OOMKilled model containers)', () => {
  it('finds live pods whose sidecar container was or is OOMKilled, ignoring other containers, reasons and deleted pods', () => {
    const pods = [
      pod('b', [{ ...base, name: 'sidecar', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }]),
      pod('a', [{ ...base, name: 'sidecar', restartCount: 0, state: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }]),
      pod('c', [{ ...base, name: 'sidecar', restartCount: 1, lastState: { terminated: { reason: 'Error', exitCode: 1 } } }]),
      pod('d', [{ ...base, name: 'other', restartCount: 1, lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }]),
      pod('e', [{ ...base, name: 'sidecar', restartCount: 1, lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }], true),
      pod('f', undefined),
    ];
    assert.deepEqual(memoryKills(pods, 'sidecar'), [
      { pod: 'a', restarts: 0 },
      { pod: 'b', restarts: 3 },
    ]);
  });

  it('names the first pod, the limit and the restarts; nothing when no pod was killed', () => {
    assert.equal(memoryKillBlocker([], 64), undefined);
    const one = memoryKillBlocker([{ pod: 'p-1', restarts: 1 }], 64);
    assert.equal(one?.reason, 'OOMKilled');
    assert.match(one?.message ?? '', /^pod p-1: the kernel killed the model container for exceeding its memory limit \(spec\.runtime\.maxMemoryMB=64\), 1 restart;/);
    const three = memoryKillBlocker([{ pod: 'p-1', restarts: 2 }, { pod: 'p-2', restarts: 1 }, { pod: 'p-3', restarts: 0 }], 64);
    assert.match(three?.message ?? '', /^pod p-1 \(and 2 more pods\): .* 2 restarts;/);
  });
});
