// Kubernetes clients for the e2e suites, from the cluster's kubeconfig.
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { kubeconfigPath } from './paths.js';
import { retryTransient } from './retry.js';

export const E2E_FIELD_MANAGER = 'paddle-e2e-tests';

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  objects: KubernetesObjectApi;
}

/** Clients for the cluster named by KUBECONFIG, else e2e/.cluster/kubeconfig. */
export function makeClients(path: string = kubeconfigPath()): Clients {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/** The API server's message in an ApiException (its Status body), else the error message. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    if (typeof body === 'string') {
      try {
        const parsed = JSON.parse(body) as { message?: string };
        if (parsed.message) return parsed.message;
      } catch {
        return body;
      }
      return body;
    }
    if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  }
  return err instanceof Error ? err.message : String(err);
}

/** Server-side applies one object (one field manager, conflicts forced); an apply is idempotent, so transient failures are retried. */
export async function applyObject<T extends KubernetesObject>(objects: KubernetesObjectApi, obj: T): Promise<T> {
  return retryTransient(`apply ${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`, () =>
    objects.patch(obj, undefined, undefined, E2E_FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
  );
}

/** Deletes one object, retrying transient failures; a 404 on a retry means the lost try deleted it. */
export async function deleteObject(objects: KubernetesObjectApi, obj: KubernetesObject, propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'): Promise<void> {
  let tries = 0;
  await retryTransient(`delete ${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`, async () => {
    tries++;
    try {
      await objects.delete(obj, undefined, undefined, undefined, undefined, propagationPolicy);
    } catch (err) {
      if (!(tries > 1 && isNotFound(err))) throw err;
    }
  });
}

/**
 * Creates one object, retrying transient failures (a starved API server); a 409 on a retry
 * means the try whose answer was lost created it, and the object is read back.
 */
export async function createObject<T extends KubernetesObject>(objects: KubernetesObjectApi, obj: T): Promise<T> {
  return retryTransient(`create ${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`, () => objects.create(obj), {
    onConflictAfterRetry: () => objects.read({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata?.name ?? '', namespace: obj.metadata?.namespace } }),
  });
}

/**
 * Server-side applies every document of a YAML text, in order. Objects without a namespace
 * get `namespace` when given (cluster-scoped kinds must not be given one by the caller).
 */
export async function applyYaml(objects: KubernetesObjectApi, yamlText: string, namespace?: string): Promise<KubernetesObject[]> {
  const docs = (loadAllYaml(yamlText) as (KubernetesObject | null)[]).filter((d): d is KubernetesObject => d !== null);
  const out: KubernetesObject[] = [];
  for (const doc of docs) {
    if (!doc.apiVersion || !doc.kind || !doc.metadata?.name) {
      throw new Error(`applyYaml: document without apiVersion, kind or metadata.name: ${JSON.stringify(doc).slice(0, 200)}`);
    }
    if (namespace && !doc.metadata.namespace) doc.metadata.namespace = namespace;
    out.push(await applyObject(objects, doc));
  }
  return out;
}

/** applyYaml for a file. */
export async function applyYamlFile(objects: KubernetesObjectApi, path: string, namespace?: string): Promise<KubernetesObject[]> {
  return applyYaml(objects, readFileSync(path, 'utf8'), namespace);
}
