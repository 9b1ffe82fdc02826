// retryTransient against a real HTTP server playing a starved API server: dropped connections,
// 429 and 503 answers, a create whose answer was lost (409 on the retry), and answers that are
// not transient (404, 422), through the same client-node calls the suites make.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { isTransientKubectlFailure } from '../src/kubectl.js';
import { isTransientApiError, retryTransient } from '../src/retry.js';

type Step = 'reset' | number;

/** A server answering each request with the next step: a dropped connection or a status code. */
async function scriptedServer(steps: Step[]): Promise<{ server: Server; core: CoreV1Api; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    const step = steps.shift() ?? 200;
    if (step === 'reset') {
      req.socket.destroy();
      return;
    }
    res.writeHead(step, { 'content-type': 'application/json' });
    const body = step < 400
      ? { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns-a' } }
      : { apiVersion: 'v1', kind: 'Status', status: 'Failure', code: step, message: `scripted ${step}` };
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { server, core: kc.makeApiClient(CoreV1Api), seen };
}

describe('retryTransient', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  it('retries a dropped connection, 429 and 503, and returns the answer that follows', async () => {
    const s = await scriptedServer(['reset', 429, 503, 200]);
    server = s.server;
    const ns = await retryTransient('read namespace', () => s.core.readNamespace({ name: 'ns-a' }), { firstDelayMs: 1 });
    assert.equal(ns.metadata?.name, 'ns-a');
    assert.equal(s.seen.length, 4);
  });

  it('a 409 on a retried create means the lost first try created it', async () => {
    const s = await scriptedServer([503, 409]);
    server = s.server;
    const got = await retryTransient('create namespace', () => s.core.createNamespace({ body: { metadata: { name: 'ns-a' } } }), {
      firstDelayMs: 1,
      onConflictAfterRetry: async () => ({ metadata: { name: 'ns-a (read back)' } }),
    });
    assert.equal(got.metadata?.name, 'ns-a (read back)');
  });

  it('a 409 on the first try is an answer, not a retry', async () => {
    const s = await scriptedServer([409]);
    server = s.server;
    await assert.rejects(
      retryTransient('create namespace', () => s.core.createNamespace({ body: { metadata: { name: 'ns-a' } } }), { firstDelayMs: 1, onConflictAfterRetry: async () => 'wrong' }),
      (err: unknown) => !isTransientApiError(err) && /scripted 409/.test(String((err as { body?: unknown }).body)),
    );
    assert.equal(s.seen.length, 1);
  });

  it('404 and 422 are answers: thrown at once', async () => {
    for (const code of [404, 422]) {
      const s = await scriptedServer([code, 200]);
      server = s.server;
      await assert.rejects(retryTransient('read namespace', () => s.core.readNamespace({ name: 'ns-a' }), { firstDelayMs: 1 }));
      assert.equal(s.seen.length, 1, `${code} not retried`);
      await new Promise((r) => s.server.close(r));
      server = undefined;
    }
  });

  it('gives up after its bound, naming the call and the tries', async () => {
    const s = await scriptedServer(Array.from({ length: 100 }, () => 503));
    server = s.server;
    await assert.rejects(
      retryTransient('read namespace ns-a', () => s.core.readNamespace({ name: 'ns-a' }), { firstDelayMs: 5, timeoutMs: 100 }),
      (err: Error) => /^read namespace ns-a \(after \d+ tries\)/.test(err.message),
    );
  });

  it('a refused connection (nothing listens) is transient', async () => {
    const s = await scriptedServer([]);
    await new Promise((r) => s.server.close(r));
    let caught: unknown;
    try {
      await s.core.readNamespace({ name: 'ns-a' });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught, 'the call failed');
    assert.equal(isTransientApiError(caught), true, String(caught));
  });
});

describe('isTransientKubectlFailure', () => {
  const failed = (stderr: string) => ({ code: 1, stdout: '', stderr });
  it('repeats an idempotent command that met a starved API server', () => {
    assert.equal(isTransientKubectlFailure(['get', 'psvc', '-n', 'x'], failed('Error from server: etcdserver: request timed out')), true);
    assert.equal(isTransientKubectlFailure(['-n', 'x', 'apply', '-f', 'f.yaml'], failed('Error from server (ServiceUnavailable): the server is currently unable to handle the request')), true);
    assert.equal(isTransientKubectlFailure(['wait', '--for', 'condition=Ready'], failed('Unable to connect to the server: dial tcp 127.0.0.1:6443: connect: connection refused')), true);
  });
  it('not a create or delete (not idempotent), not a real answer, not a success', () => {
    assert.equal(isTransientKubectlFailure(['create', 'secret', 'generic', 's'], failed('etcdserver: request timed out')), false);
    assert.equal(isTransientKubectlFailure(['delete', 'ns', 'x'], failed('etcdserver: request timed out')), false);
    assert.equal(isTransientKubectlFailure(['get', 'psvc', 'y'], failed('Error from server (NotFound): paddleservices "y" not found')), false);
    assert.equal(isTransientKubectlFailure(['apply', '-f', 'bad.yaml'], failed('The PaddleService "x" is invalid: spec.replicas: Invalid value')), false);
    assert.equal(isTransientKubectlFailure(['get', 'psvc'], { code: 0, stdout: 'ok', stderr: 'connection refused' }), false);
  });
});
