// A fresh namespace per test, deleted afterwards.
import { randomBytes } from 'node:crypto';
import type { Clients } from './kube.js';
import { isNotFound } from './kube.js';
import { retryTransient } from './retry.js';
import { waitFor } from './wait-for.js';

export const E2E_NAMESPACE_LABEL = 'e2e.paddle.io/test';

/**
 * How long a namespace's default ServiceAccount may take to appear. kube-controller-manager's
 * serviceaccount controller creates it; on a loaded 2-core machine that took over 30 s. This
 * bounds a hang, it is not an expected duration.
 */
export const SERVICE_ACCOUNT_TIMEOUT_MS = 300_000;

/**
 * Creates a namespace with a random suffix and waits until its default ServiceAccount exists
 * (pods are refused before that). Returns its name.
 */
export async function createTestNamespace(clients: Clients, prefix = 'e2e'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`.toLowerCase();
  await retryTransient(`create namespace ${name}`, () => clients.core.createNamespace({ body: { metadata: { name, labels: { [E2E_NAMESPACE_LABEL]: 'true' } } } }), {
    onConflictAfterRetry: () => clients.core.readNamespace({ name }),
  });
  await waitFor(async () => {
    try {
      await clients.core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      return true;
    } catch (err) {
      if (isNotFound(err)) return { done: false, seen: 'ServiceAccount default not created yet' };
      throw err;
    }
  }, SERVICE_ACCOUNT_TIMEOUT_MS, `the default ServiceAccount in namespace ${name} (kube-controller-manager creates it)`);
  return name;
}

/** Deletes a namespace (the namespace controller removes its contents). Missing is fine. */
export async function deleteTestNamespace(clients: Clients, name: string): Promise<void> {
  try {
    await retryTransient(`delete namespace ${name}`, () => clients.core.deleteNamespace({ name }));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * Mocha hooks giving every test of the calling suite its own namespace:
 *   const ns = useTestNamespace(clients);  ...  it('...', async () => { ns.name ... })
 * Set E2E_KEEP_NAMESPACES=1 to keep them for debugging.
 */
export function useTestNamespace(getClients: () => Clients, prefix = 'e2e'): { name: string } {
  const handle = { name: '' };
  beforeEach(async function () {
    this.timeout(SERVICE_ACCOUNT_TIMEOUT_MS + 180_000);
    handle.name = await createTestNamespace(getClients(), prefix);
  });
  afterEach(async function () {
    this.timeout(180_000);
    if (handle.name && !process.env.E2E_KEEP_NAMESPACES) await deleteTestNamespace(getClients(), handle.name);
    handle.name = '';
  });
  return handle;
}
