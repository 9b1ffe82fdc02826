// The pod report's transport (PodReportPatcher): merge patches of status.podReports.<pod> on the
// PaddleService's status subresource, sent over one keep-alive TLS connection to the API server
// (client-node's own transport opened a new TCP + TLS connection for every report), with the
// in-cluster style token file as the bearer token, and the API server's error answers rejected
// with their status. Against an in-process HTTPS server standing in for the API server.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { buildPodReport, buildReportPatch, PodReporter, PodReportPatcher } from '../src/pod-report.js';
import type { PodReport } from '../../crds/src/types.js';
import { createPki, type Pki } from './helpers/pki.js';
import { testDir } from './helpers/tmp.js';

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
}

const report = buildPodReport({
  now: new Date('2026-12-06T12:00:00Z'),
  ready: true,
  selfCheckPassed: true,
  info: undefined,
  device: 'cpu',
  mode: 'normal',
  latenciesMs: [1, 2, 3],
  baselineP95Ms: undefined,
  requests: { total: 3, errors: 0 },
  matrix: { gpuMemoryBucketMB: 1024, latencyBucketMs: 5, seqLenEdges: [], total: 0, cells: [] },
  stats: undefined,
  breaker: { state: 'closed', trips: 0, treatmentState: 'closed' },
});

describe('PodReportPatcher (the pod report transport)', function () {
  let pki: Pki;
  let server: Server;
  let port: number;
  let connections: number;
  let seen: Seen[];
  let answer: { status: number; body: string };
  let tokenFile: string;

  before(async function () {
    pki = createPki();
    server = createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], authorization: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body);
      });
    });
    server.on('secureConnection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
    tokenFile = join(testDir('pod-report-'), 'token');
    writeFileSync(tokenFile, 'sa-token-1');
  });

  after(async function () {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(function () {
    connections = 0;
    seen = [];
    answer = { status: 200, body: '{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":{"name":"svc"}}' };
  });

  /** A kubeconfig as the in-cluster one is: the server's CA and a service-account token file. */
  function inClusterLike(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://localhost:${port}`, caData: readFileSync(pki.caCert).toString('base64') }],
      users: [{ name: 'u', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return kc;
  }

  it('sends every report as a merge patch of the status subresource over one TLS connection', async function () {
    const patcher = new PodReportPatcher(inClusterLike(), { namespace: 'team-a', serviceName: 'svc', podName: 'svc-7d9f-abcde', templateHash: '7d9f' });
    try {
      for (let i = 0; i < 4; i++) await patcher.patch(report);
    } finally {
      patcher.close();
    }
    assert.equal(seen.length, 4);
    for (const s of seen) {
      assert.equal(s.method, 'PATCH');
      assert.equal(s.url, '/apis/serving.paddle.io/v1alpha1/namespaces/team-a/paddleservices/svc/status');
      assert.equal(s.contentType, 'application/merge-patch+json');
      assert.equal(s.authorization, 'Bearer sa-token-1');
      assert.deepEqual(s.body, JSON.parse(JSON.stringify(buildReportPatch('svc-7d9f-abcde', report, '7d9f'))));
    }
    assert.equal(connections, 1, 'four reports, one TLS connection (client-node opened one per report)');
  });

  it('rejects with the API server\'s status when the PaddleService is gone, and the next report still goes out', async function () {
    const patcher = new PodReportPatcher(inClusterLike(), { namespace: 'team-a', serviceName: 'gone', podName: 'gone-1' });
    try {
      answer = { status: 404, body: '{"kind":"Status","apiVersion":"v1","status":"Failure","message":"paddleservices.serving.paddle.io \\"gone\\" not found","reason":"NotFound","code":404}' };
      await assert.rejects(patcher.patch(report), (err: { code?: number; message?: string }) => err.code === 404 && /not found/.test(err.message ?? ''));
      answer = { status: 200, body: '{}' };
      await patcher.patch(report);
    } finally {
      patcher.close();
    }
    assert.equal(seen.length, 2);
    assert.equal(seen[1]?.url, '/apis/serving.paddle.io/v1alpha1/namespaces/team-a/paddleservices/gone/status');
  });
});

describe('PodReporter (which reports are written)', function () {
  /** A reporter over a fake clock and an in-memory patch; `state` is what the pod would report. */
  function setup(cadence: { intervalSeconds: number; heartbeatSeconds?: number }) {
    let now = Date.parse('2026-12-07T00:00:00Z');
    const state = { total: 0, ready: true };
    const written: PodReport[] = [];
    const results: string[] = [];
    let fail: Error | undefined;
    const reporter = new PodReporter({
      build: () => ({ ...report, reportedAt: new Date(now).toISOString(), ready: state.ready, requests: { total: state.total, errors: 0 } }),
      patch: async (r) => {
        if (fail) throw fail;
        written.push(r);
      },
      cadence: () => cadence,
      onResult: (r) => results.push(r),
      now: () => now,
    });
    /** The ticks the loop would make, an interval apart. */
    const ticks = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        now += cadence.intervalSeconds * 1000;
        await reporter.tick();
      }
    };
    return { reporter, state, written, results, ticks, failWith: (e: Error | undefined) => (fail = e) };
  }

  it('writes the first report, then only a changed one, and an unchanged one once per heartbeat', async function () {
    const t = setup({ intervalSeconds: 15, heartbeatSeconds: 60 });
    assert.equal(await t.reporter.tick(), 'ok', 'the first report is always written');
    await t.ticks(3);
    assert.deepEqual(t.results, ['ok', 'unchanged', 'unchanged', 'unchanged'], 'an idle pod writes nothing within the heartbeat');
    await t.ticks(1);
    assert.equal(t.results.at(-1), 'ok', 'the heartbeat: 60 s after the last write');
    t.state.total = 5; // it served
    await t.ticks(1);
    assert.equal(t.results.at(-1), 'ok', 'a changed report is written at the next tick');
    assert.equal(t.written.at(-1)?.requests.total, 5);
    t.state.ready = false; // the breaker opened, say
    await t.ticks(1);
    assert.equal(t.written.at(-1)?.ready, false);
    assert.deepEqual(t.results, ['ok', 'unchanged', 'unchanged', 'unchanged', 'ok', 'ok', 'ok']);
    // Over 10 idle minutes: one write per heartbeat, not one per interval.
    const before = t.written.length;
    await t.ticks(40);
    assert.equal(t.written.length - before, 10);
  });

  it('without a heartbeat (a config from an older operator) every interval writes, as before', async function () {
    const t = setup({ intervalSeconds: 15 });
    await t.reporter.tick();
    await t.ticks(4);
    assert.deepEqual(t.results, ['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('a heartbeat below the interval means every interval', async function () {
    const t = setup({ intervalSeconds: 15, heartbeatSeconds: 5 });
    await t.reporter.tick();
    await t.ticks(2);
    assert.deepEqual(t.results, ['ok', 'ok', 'ok']);
  });

  it('a failed write is tried again at the next tick, even when nothing changed', async function () {
    const t = setup({ intervalSeconds: 15, heartbeatSeconds: 60 });
    await t.reporter.tick();
    t.state.total = 1;
    t.failWith(new Error('connection refused'));
    await t.ticks(1);
    t.failWith(undefined);
    await t.ticks(1);
    assert.deepEqual(t.results, ['ok', 'error', 'ok']);
    assert.equal(t.written.at(-1)?.requests.total, 1, 'the change that failed to go out went out next');
  });
});
