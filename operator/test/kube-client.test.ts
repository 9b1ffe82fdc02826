import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, METADATA_ONLY_ACCEPT } from '../src/kube-client.js';

/** A plain-HTTP stand-in for the API server that records each request and answers `{}`. */
async function recordingServer(user: Parameters<KubeConfig['loadFromOptions']>[0]['users'][number] = { name: 'u' }) {
  const seen: Array<{ method: string; url: URL; contentType: string; accept: string; authorization?: string }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push({
      method: req.method ?? '',
      url: new URL(req.url ?? '/', 'http://x'),
      contentType: String(req.headers['content-type'] ?? ''),
      accept: String(req.headers.accept ?? ''),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
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
    users: [user],
    contexts: [{ name: 'ctx', cluster: 'c', user: user.name }],
    currentContext: 'ctx',
  });
  // Count how often the client asks the kubeconfig for its auth.
  let authReads = 0;
  const apply = kc.applyToHTTPSOptions.bind(kc);
  kc.applyToHTTPSOptions = async (opts) => {
    authReads++;
    return apply(opts);
  };
  return { seen, client: new KubeClient(kc), authReads: () => authReads, close: () => new Promise((r) => server.close(r)) };
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

  it("reads a fixed user's auth once, and a rotating one (auth provider, exec plugin) at every request", async () => {
    const fixed = await recordingServer({ name: 'u', token: 'fixed-token' });
    try {
      for (let i = 0; i < 3; i++) await fixed.client.get('/api/v1/namespaces/ml/secrets/a');
      assert.deepEqual(
        fixed.seen.map((r) => r.authorization),
        ['Bearer fixed-token', 'Bearer fixed-token', 'Bearer fixed-token'],
      );
      // One read for the connection pool's TLS material, one for the headers.
      assert.equal(fixed.authReads(), 2);
    } finally {
      fixed.client.close();
      await fixed.close();
    }
    const dir = mkdtempSync(join(tmpdir(), 'kube-client-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'file-token');
    const rotating = await recordingServer({ name: 'u', authProvider: { name: 'tokenFile', config: { tokenFile } } });
    try {
      for (let i = 0; i < 3; i++) await rotating.client.get('/api/v1/namespaces/ml/secrets/a');
      assert.deepEqual(
        rotating.seen.map((r) => r.authorization),
        ['Bearer file-token', 'Bearer file-token', 'Bearer file-token'],
      );
      assert.equal(rotating.authReads(), 1 + 3, 'the pool once, then the headers at each request');
    } finally {
      rotating.client.close();
      await rotating.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('asks for PartialObjectMetadata where the caller reads only the metadata, else for JSON', async () => {
    const s = await recordingServer();
    try {
      const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } };
      await s.client.apply('/api/v1/namespaces/ml/configmaps/a', cm, 'paddle-operator', { metadataOnly: true });
      await s.client.apply('/api/v1/namespaces/ml/configmaps/a', cm, 'paddle-operator');
      await s.client.mergePatch('/apis/serving.paddle.io/v1alpha1/namespaces/ml/paddleservices/a/status', { status: {} }, { metadataOnly: true });
      await s.client.create('/api/v1/namespaces/ml/events', { metadata: { generateName: 'a.' } }, { metadataOnly: true });
      await s.client.get('/api/v1/namespaces/ml/configmaps/a');
      assert.deepEqual(
        s.seen.map((r) => r.accept),
        [METADATA_ONLY_ACCEPT, 'application/json', METADATA_ONLY_ACCEPT, METADATA_ONLY_ACCEPT, 'application/json'],
      );
      assert.equal(METADATA_ONLY_ACCEPT, 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json');
    } finally {
      s.client.close();
      await s.close();
    }
  });
});

