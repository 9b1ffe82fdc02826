import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { waitFor } from '../../e2e/src/wait-for.js';
import { KubeClient } from '../src/kube-client.js';

/** A plain-HTTP stand-in for the API server's watch: `handler` writes the answer. */
async function watchServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Array<{ url: URL; accept: string; authorization: string }> = [];
  const closed: string[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: new URL(req.url ?? '/', 'http://x'), accept: String(req.headers.accept), authorization: String(req.headers.authorization) });
    req.socket.on('close', () => closed.push(req.url ?? ''));
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't0k' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  const client = new KubeClient(kc, { watchIdleTimeoutMs: 300 });
  return {
    seen,
    closed,
    client,
    close: async () => {
      client.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Runs one watch to its end: the events it delivered and what done was called with (and how often). */
async function runWatch(client: KubeClient, query: Record<string, string | undefined> = {}) {
  const events: Array<[string, unknown]> = [];
  const doneWith: unknown[] = [];
  const ended = new Promise<void>((resolve) => {
    void client.watch('/api/v1/pods', query, (type, obj) => events.push([type, obj]), (err) => {
      doneWith.push(err);
      resolve();
    });
  });
  await ended;
  // A second done would come right after the first, if at all.
  await new Promise((r) => setTimeout(r, 50));
  return { events, doneWith };
}

describe('KubeClient.watch (the informers’ watch transport)', () => {
  it('delivers each line as one event, however the answer is cut into chunks, and ends with done(null) once', async () => {
    const ev = (type: string, name: string) => JSON.stringify({ type, object: { kind: 'Pod', metadata: { name, resourceVersion: '7' } } });
    const s = await watchServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const text = `${ev('ADDED', 'a')}\n${ev('MODIFIED', 'bé-ü')}\n${ev('DELETED', 'c')}\nnot json\n\n${ev('BOOKMARK', 'd')}`;
      const bytes = Buffer.from(text, 'utf8');
      // Cut mid-event and inside the two-byte characters; the last event has no newline.
      const cuts = [5, bytes.indexOf('é') + 1, bytes.indexOf('ü') + 1, bytes.length - 3, bytes.length];
      let at = 0;
      const next = () => {
        const to = cuts.shift();
        if (to === undefined) return res.end();
        res.write(bytes.subarray(at, to));
        at = to;
        setTimeout(next, 10);
      };
      next();
    });
    try {
      const { events, doneWith } = await runWatch(s.client, { resourceVersion: '5', labelSelector: 'a=b', fieldSelector: undefined });
      assert.deepEqual(
        events.map(([t, o]) => `${t} ${(o as { metadata: { name: string } }).metadata.name}`),
        ['ADDED a', 'MODIFIED bé-ü', 'DELETED c', 'BOOKMARK d'],
      );
      assert.deepEqual(doneWith, [null]);
      assert.deepEqual(Object.fromEntries(s.seen[0]?.url.searchParams ?? []), { watch: 'true', resourceVersion: '5', labelSelector: 'a=b' });
      assert.equal(s.seen[0]?.accept, 'application/json');
      assert.equal(s.seen[0]?.authorization, 'Bearer t0k');
    } finally {
      await s.close();
    }
  });

  it('an HTTP error ends it with an error that carries the status (410: the ListWatch lists again)', async () => {
    const s = await watchServer((_req, res) => {
      res.writeHead(410, { 'Content-Type': 'application/json' });
      res.end('{"kind":"Status","code":410}');
    });
    try {
      const { events, doneWith } = await runWatch(s.client);
      assert.deepEqual(events, []);
      assert.equal(doneWith.length, 1);
      assert.equal((doneWith[0] as { statusCode?: number }).statusCode, 410);
    } finally {
      await s.close();
    }
  });

  it('a watch silent for watchIdleTimeoutMs ends with a TimeoutError (the ListWatch reconnects at once) and its connection is closed', async () => {
    const s = await watchServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } })}\n`);
    });
    try {
      const { events, doneWith } = await runWatch(s.client);
      assert.equal(events.length, 1);
      assert.equal(doneWith.length, 1);
      assert.equal((doneWith[0] as Error).name, 'TimeoutError');
      await waitFor(() => s.closed.length > 0, 60_000, 'the server to see the connection close', { intervalMs: 10 });
      assert.equal(s.closed.length, 1, 'the server saw the connection close');
    } finally {
      await s.close();
    }
  });

  it('aborting the returned controller ends it, once, and closes the connection', async () => {
    const s = await watchServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('');
    });
    try {
      const doneWith: unknown[] = [];
      const controller = await s.client.watch('/api/v1/pods', {}, () => undefined, (err) => doneWith.push(err));
      controller.abort();
      await waitFor(() => ({ done: doneWith.length > 0 && s.closed.length > 0, seen: { done: doneWith.length, closed: s.closed.length } }), 60_000, 'the watch to end and its connection to close', { intervalMs: 10 });
      assert.equal(doneWith.length, 1);
      assert.equal(s.closed.length, 1);
    } finally {
      await s.close();
    }
  });

  it('a refused connection ends it with the network error', async () => {
    const s = await watchServer(() => undefined);
    const port = Number(new URL(s.client.kubeConfig.getCurrentCluster()?.server ?? '').port);
    await s.close();
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const client = new KubeClient(kc);
    try {
      const { doneWith } = await runWatch(client);
      assert.equal(doneWith.length, 1);
      assert.equal((doneWith[0] as { code?: string }).code, 'ECONNREFUSED');
    } finally {
      client.close();
    }
  });

  it('a kubeconfig it cannot connect with ends it with that error (done, not a rejection)', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'http://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const client = new KubeClient(kc);
    try {
      const { doneWith } = await runWatch(client);
      assert.equal(doneWith.length, 1);
      assert.match(String(doneWith[0]), /skipTLSVerify/);
    } finally {
      client.close();
    }
  });
});
