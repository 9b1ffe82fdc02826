// One namespace's objects of one resource as one watch keeps them (client-node's informer: it
// resumes from the last resourceVersion and relists only when it must), restarted on errors,
// with add/update callbacks. The benchmarks read their caches instead of polling LISTs: a LIST
// of 1000 objects every few seconds is API-server CPU on the same 2 cores being measured.

import { makeInformer, type Informer, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Clients } from '../../e2e/src/index.js';

export interface WatchedResource {
  /** API path of the collection, e.g. /apis/apps/v1/namespaces/NS/deployments. */
  path: string;
  list: () => Promise<{ items: KubernetesObject[]; metadata?: { resourceVersion?: string } }>;
}

export class NamespaceWatch<T extends object> {
  readonly #informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  #stopped = false;

  constructor(clients: Clients, resource: WatchedResource, onObject?: (obj: T) => void) {
    const list = async () => {
      const l = await resource.list();
      return { ...l, metadata: l.metadata ?? {} } as never;
    };
    this.#informer = makeInformer<KubernetesObject>(clients.kc, resource.path, list);
    if (onObject) {
      this.#informer.on('add', (o) => onObject(o as unknown as T));
      this.#informer.on('update', (o) => onObject(o as unknown as T));
    }
    this.#informer.on('error', () => {
      if (!this.#stopped) setTimeout(() => void this.#informer.start().catch(() => undefined), 1_000);
    });
  }

  async start(): Promise<void> {
    await this.#informer.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#informer.stop();
  }

  list(): T[] {
    return this.#informer.list() as unknown as T[];
  }

  count(pred: (obj: T) => boolean): number {
    return this.list().filter(pred).length;
  }
}

const PS = { group: 'serving.paddle.io', version: 'v1alpha1', plural: 'paddleservices' };

/** The namespace's PaddleServices. */
export function paddleServices(clients: Clients, ns: string): WatchedResource {
  return {
    path: `/apis/${PS.group}/${PS.version}/namespaces/${ns}/${PS.plural}`,
    list: async () => (await clients.custom.listNamespacedCustomObject({ ...PS, namespace: ns })) as never,
  };
}

export function deployments(clients: Clients, ns: string): WatchedResource {
  return { path: `/apis/apps/v1/namespaces/${ns}/deployments`, list: async () => (await clients.apps.listNamespacedDeployment({ namespace: ns })) as never };
}

export function replicaSets(clients: Clients, ns: string): WatchedResource {
  return { path: `/apis/apps/v1/namespaces/${ns}/replicasets`, list: async () => (await clients.apps.listNamespacedReplicaSet({ namespace: ns })) as never };
}

export function pods(clients: Clients, ns: string): WatchedResource {
  return { path: `/api/v1/namespaces/${ns}/pods`, list: async () => (await clients.core.listNamespacedPod({ namespace: ns })) as never };
}

export function certificates(clients: Clients, ns: string): WatchedResource {
  const cm = { group: 'cert-manager.io', version: 'v1', plural: 'certificates' };
  return {
    path: `/apis/${cm.group}/${cm.version}/namespaces/${ns}/${cm.plural}`,
    list: async () => (await clients.custom.listNamespacedCustomObject({ ...cm, namespace: ns })) as never,
  };
}
