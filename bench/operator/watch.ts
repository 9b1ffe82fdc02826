// One namespace's objects of one resource as one watch keeps them (client-node's ListWatch: it
// resumes from the last resourceVersion and relists only when it must), restarted on errors,
// with add/update callbacks. The benchmarks read their caches instead of polling LISTs: a LIST
// of 1000 objects every few seconds is API-server CPU on the same 2 cores being measured.
//
// Transport: the operator's own KubeClient (node:https keep-alive pool, its watch over the same
// TLS material), not client-node's fetch + web stream + readline and typed deserialisation: the
// bench process shares the 2 cores with what it measures, and with client-node it used 7.6 CPU-s
// (11 %) of a 70 s converge of 1000, most of it receiving the watch events and sending the creates.

import { ListWatch, type KubeConfig, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Clients } from '../../e2e/src/index.js';
import { KubeClientWatch } from '../../operator/src/informers.js';
import { KubeClient } from '../../operator/src/kube-client.js';

export interface WatchedResource {
  /** API path of the collection, e.g. /apis/apps/v1/namespaces/NS/deployments. */
  path: string;
}

/** One KubeClient per kubeconfig for the whole bench process (its creates, lists and watches). */
const BENCH_CLIENTS = new WeakMap<KubeConfig, KubeClient>();
export function benchClient(clients: Clients): KubeClient {
  let c = BENCH_CLIENTS.get(clients.kc);
  if (!c) {
    c = new KubeClient(clients.kc);
    BENCH_CLIENTS.set(clients.kc, c);
  }
  return c;
}

export class NamespaceWatch<T extends object> {
  readonly #informer: ListWatch<KubernetesObject> & ObjectCache<KubernetesObject>;
  #stopped = false;

  constructor(clients: Clients, resource: WatchedResource, onObject?: (obj: T) => void) {
    const client = benchClient(clients);
    const list = async () => {
      const l = await client.list<KubernetesObject>(resource.path);
      return { ...l, metadata: l.metadata ?? {} } as never;
    };
    this.#informer = new ListWatch<KubernetesObject>(resource.path, new KubeClientWatch(client), list, false);
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
export function paddleServices(ns: string): WatchedResource {
  return { path: `/apis/${PS.group}/${PS.version}/namespaces/${ns}/${PS.plural}` };
}

export function deployments(ns: string): WatchedResource {
  return { path: `/apis/apps/v1/namespaces/${ns}/deployments` };
}

export function replicaSets(ns: string): WatchedResource {
  return { path: `/apis/apps/v1/namespaces/${ns}/replicasets` };
}

export function pods(ns: string): WatchedResource {
  return { path: `/api/v1/namespaces/${ns}/pods` };
}

export function certificates(ns: string): WatchedResource {
  const cm = { group: 'cert-manager.io', version: 'v1', plural: 'certificates' };
  return { path: `/apis/${cm.group}/${cm.version}/namespaces/${ns}/${cm.plural}` };
}
