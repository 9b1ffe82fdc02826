import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Registry, Counter } from 'prom-client';
import { HelpRequested, parseOptions, usage, UsageError } from '../src/main.js';
import { createOpsServer } from '../src/server.js';
import { resourceOf } from '../src/kube-client.js';

describe('operator options', () => {
  it('defaults', () => {
    const o = parseOptions([], {});
    assert.equal(o.workers, 4);
    assert.equal(o.resyncSeconds, 300);
    assert.equal(o.leaderElect, true);
    assert.equal(o.leaseDurationSeconds, 15);
    assert.equal(o.config.clusterDomain, 'cluster.local');
  });

  it('flags beat env; env beats defaults', () => {
    const o = parseOptions(['--workers', '8', '--no-leader-elect', '--sidecar-image=img:1'], { OPERATOR_WORKERS: '2', OPERATOR_RESYNC_SECONDS: '30' });
    assert.equal(o.workers, 8);
    assert.equal(o.resyncSeconds, 30);
    assert.equal(o.leaderElect, false);
    assert.equal(o.config.sidecarImage, 'img:1');
  });

  it('--help / -h ask for the usage text, which names every flag the parser knows', () => {
    assert.throws(() => parseOptions(['--workers', '2', '--help'], {}), HelpRequested);
    assert.throws(() => parseOptions(['-h'], {}), HelpRequested);
    const text = usage();
    for (const flag of ['kubeconfig', 'sidecar-image', 'workers', 'resync-seconds', 'ops-port', 'leader-elect', 'lease-duration-seconds', 'log-level']) {
      assert.match(text, new RegExp(`--${flag} VALUE`));
      // and the parser accepts each listed flag
      if (flag !== 'leader-elect' && flag !== 'kubeconfig') assert.doesNotThrow(() => parseOptions([`--${flag}`, flag === 'log-level' ? 'debug' : flag === 'sidecar-image' ? 'img:1' : '20'], {}));
    }
    const listed = [...text.matchAll(/^ {2}--([a-z-]+) VALUE$/gm)].map((m) => m[1]);
    assert.equal(listed.length, 16);
    for (const flag of listed) {
      try {
        parseOptions([`--${flag}=x`], {});
      } catch (e) {
        assert.ok(!(e instanceof UsageError && /unknown flag/.test(e.message)), `--${flag} is listed but unknown to the parser`);
      }
    }
  });

  const bad: Array<[string[], Record<string, string>, RegExp]> = [
    [['--workers', 'many'], {}, /--workers .* integer >= 1, got "many"/],
    [['--workers', '0'], {}, /--workers/],
    [['--bogus', '1'], {}, /unknown flag --bogus/],
    [['--workers'], {}, /needs a value/],
    [['positional'], {}, /unexpected argument/],
    [['--lease-duration-seconds', '5', '--renew-deadline-seconds', '10'], {}, /retry-period < renew-deadline < lease-duration/],
    [[], { OPERATOR_LEADER_ELECT: 'maybe' }, /true or false/],
    [['--log-level', 'loud'], {}, /log-level/],
  ];
  for (const [argv, env, message] of bad) {
    it(`rejects ${JSON.stringify(argv)} ${JSON.stringify(env)} with a clear message`, () => {
      assert.throws(() => parseOptions(argv, env), (e: unknown) => e instanceof UsageError && message.test(e.message));
    });
  }
});

describe('ops server', () => {
  it('serves /healthz, /readyz (by state) and /metrics', async () => {
    const registry = new Registry();
    new Counter({ name: 'paddle_operator_test_total', help: 'x', registers: [registry] }).inc();
    let ready = false;
    const server = createOpsServer(registry, { ready: () => ({ ok: ready, detail: ready ? 'leading; caches synced' : 'caches not synced yet' }) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const notReady = await fetch(`${base}/readyz`);
      assert.equal(notReady.status, 503);
      assert.match(await notReady.text(), /not synced/);
      ready = true;
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /paddle_operator_test_total 1/);
      assert.equal((await fetch(`${base}/nope`)).status, 404);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('resourceOf (metrics label)', () => {
  const table: Array<[string, string]> = [
    ['/api/v1/namespaces/a/pods/b', 'pods'],
    ['/api/v1/pods', 'pods'],
    ['/apis/apps/v1/namespaces/a/deployments/b', 'deployments'],
    ['/apis/serving.paddle.io/v1alpha1/namespaces/a/paddleservices/b/status', 'paddleservices/status'],
    ['/apis/coordination.k8s.io/v1/namespaces/x/leases/y', 'leases'],
  ];
  for (const [path, expected] of table) it(`${path} -> ${expected}`, () => assert.equal(resourceOf(path), expected));
});
