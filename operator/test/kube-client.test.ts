import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../src/kube-client.js';

/** A plain-HTTP stand-in for the API server that records each request and answers `{}`. */
async function recordingServer() {
  const seen: Array<{ method: string; url: URL; contentType: string }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push({ method: req.method ?? '', url: new URL(req.url ?? '/', 'http://x'), contentType: String(req.headers['content-type'] ?? '') });
    req.resume();
    req.on('end', () => {
      res.setHeader('Content-Type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return { seen, client: new KubeClient(kc), close: () => new Promise((r) => server.close(r)) };
}

describe('KubeClient: what the operator asks of the API server', () => {
  it('applies with its field manager, force and fieldValidation=Ignore; merge-patches with fieldValidation=Ignore', async () => {
    const s = await recordingServer();
    try {
      await s.client.apply('/api/v1/namespaces/ml/configmaps/a', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } }, 'paddle-operator');
      await s.client.mergePatch('/apis/serving.paddle.io/v1alpha1/namespaces/ml/paddleservices/a/status', { status: {} });
      const [apply, patch] = s.seen;
      assert.equal(apply?.method, 'PATCH');
      assert.equal(apply?.contentType, 'application/apply-patch+yaml');
      assert.deepEqual(Object.fromEntries(apply?.url.searchParams ?? []), { fieldManager: 'paddle-operator', force: 'true', fieldValidation: 'Ignore' });
      assert.equal(patch?.contentType, 'application/merge-patch+json');
      assert.deepEqual(Object.fromEntries(patch?.url.searchParams ?? []), { fieldValidation: 'Ignore' });
      assert.deepEqual(s.client.calls.apply + s.client.calls.patch, 2);
    } finally {
      s.client.close();
      await s.close();
    }
  });
});
