// Memory given back: the real process (main.ts) on the transformer fixture takes the largest
// request admission lets through (found by bisection on the batch, against the process's own
// memory budget), answers it, and then its RSS returns near the steady value it had before,
// with no big buffer kept (the JS side) and the predictor's workspace released (the addon).
// The wait is on the RSS itself (polled until back within the bound, or the deadline).

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from './helpers/http.js';
import { RSA_PUB } from './helpers/predictors.js';
import { runSidecar, servingPorts } from './helpers/process.js';
import { DEFAULT_POLICIES } from '../src/config.js';
import { testDir } from './helpers/tmp.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const MODEL_DIR = join(ROOT, 'native/fixtures/models/transformer/legacy');
const SEQ = 128;
const MAX_MEMORY_MB = 384;

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

describe('memory given back after a maximum-size request (real process, transformer)', function () {
  this.timeout(240000);
  it('RSS returns within 25 % (and 64 MiB) of its steady value after the largest admitted request', async () => {
    const dir = testDir('sidecar-memory-');
    const policies = DEFAULT_POLICIES.map((p) => ({ ...p, callsPerMinute: 100000 }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ version: 1, model: { name: 'encoder' }, auth: { enabled: false, policies } }));
    const proc = runSidecar(
      ['--model-dir', MODEL_DIR, '--public-key', RSA_PUB, '--config', join(dir, 'config.json'), '--no-tls', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--health-port', '0', '--grpc-port', '0', '--body-limit', String(4 * 1024 * 1024)],
      { PADDLE_MAX_MEMORY_MB: String(MAX_MEMORY_MB), MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_ARENA_MAX: '2' },
    );
    try {
      const { port } = await servingPorts(proc, 120000);
      const pid = proc.child.pid as number;
      const infer = (batch: number) =>
        request(`http://127.0.0.1:${port}/v2/models/encoder/infer`, {
          body: { inputs: [{ name: 'tokens', datatype: 'INT64', shape: [batch, SEQ], data: Array.from({ length: batch * SEQ }, (_, i) => (i * 7) % 1000) }] },
        });
      for (let i = 0; i < 3; i++) assert.equal((await infer(1)).status, 200);
      const steady = rssOf(pid);

      // The largest batch admission lets through: 422 above it (a client error naming the budget).
      let lo = 1;
      let hi = 1024;
      const top = await infer(hi);
      assert.equal(top.status, 422, `batch ${hi} should be above the ${MAX_MEMORY_MB} MiB budget: ${top.text.slice(0, 200)}`);
      assert.match(top.text, /above the memory budget of \d+\.\d MiB per run/);
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        // Cheap: a refused request is answered before any work; an admitted one runs (the last one is the big run).
        const r = await infer(mid);
        if (r.status === 200) lo = mid;
        else {
          assert.equal(r.status, 422, r.text.slice(0, 200));
          hi = mid;
        }
      }
      const big = await infer(lo);
      assert.equal(big.status, 200, big.text.slice(0, 200));
      const peak = Math.max(rssOf(pid), steady);
      const bound = Math.max(steady * 1.25, steady + 64 * 1024 * 1024);
      const deadline = Date.now() + 60000;
      let now = rssOf(pid);
      while (now > bound && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        now = rssOf(pid);
      }
      const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
      assert.ok(now <= bound, `RSS steady ${mib(steady)}, after batch ${lo} x ${SEQ} (peak seen ${mib(peak)}) still ${mib(now)} > ${mib(bound)}`);
      assert.equal((await infer(1)).status, 200, 'still serving');
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  });
});
