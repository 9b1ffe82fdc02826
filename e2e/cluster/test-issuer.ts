// The e2e TEST ISSUER: a small stand-in for cert-manager's controller, used only by the e2e
// cluster and the demo. It fulfils cert-manager.io/v1 Certificates against the hand-written
// CRDs in e2e/cluster/crds/cert-manager.yaml: for each Certificate whose issuer exists it signs
// a fresh key pair with ONE local test CA (whatever the Issuer's spec says), writes the
// kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt) and sets the Ready condition. Every
// Issuer and ClusterIssuer is marked Ready. It is not cert-manager and must never run in a real
// cluster.
//
// Usage: node --import tsx e2e/cluster/test-issuer.ts --kubeconfig FILE --ca-cert FILE --ca-key FILE
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type ObjectCache,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Secret,
} from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { computeLifetime, computeSpecHash, issueCertificate, type CertificateSpec } from './test-issuer-x509.js';

const GROUP = 'cert-manager.io';
const VERSION = 'v1';
const FIELD_MANAGER = 'paddle-e2e-test-issuer';
const SPEC_HASH_ANNOTATION = 'e2e.paddle.io/test-issuer-spec-hash';
const RESYNC_MS = 15_000;

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

interface CertManagerObject extends KubernetesObject {
  spec?: Record<string, unknown>;
  status?: { conditions?: Condition[]; [k: string]: unknown };
}

type Kind = 'Certificate' | 'Issuer' | 'ClusterIssuer';
const PLURALS: Record<Kind, string> = { Certificate: 'certificates', Issuer: 'issuers', ClusterIssuer: 'clusterissuers' };

function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), level, component: 'test-issuer', msg, ...fields }));
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/** Conditions with `next` set; lastTransitionTime kept when the status did not change. */
function computeConditions(current: Condition[] | undefined, next: Condition, now: string): Condition[] {
  const others = (current ?? []).filter((c) => c.type !== next.type);
  const prev = (current ?? []).find((c) => c.type === next.type);
  const lastTransitionTime = prev && prev.status === next.status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
  return [...others, { ...next, lastTransitionTime }];
}

function sameCondition(a: Condition | undefined, b: Condition): boolean {
  return !!a && a.status === b.status && a.reason === b.reason && a.message === b.message && a.observedGeneration === b.observedGeneration;
}

class TestIssuer {
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #objects: KubernetesObjectApi;
  readonly #queue = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #informers: (Informer<CertManagerObject> & ObjectCache<CertManagerObject>)[] = [];
  #wake: (() => void) | null = null;
  #stopped = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly caCertPath: string,
    private readonly caKeyPath: string,
  ) {
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#objects = KubernetesObjectApi.makeApiClient(kc);
  }

  enqueue(key: string): void {
    this.#queue.add(key);
    this.#wake?.();
  }

  async start(): Promise<void> {
    // Certificates first: #informers[0] is the Certificate cache.
    for (const kind of Object.keys(PLURALS) as Kind[]) {
      const plural = PLURALS[kind];
      const informer = makeInformer<CertManagerObject>(
        this.kc,
        `/apis/${GROUP}/${VERSION}/${plural}`,
        () => this.#custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural }) as Promise<KubernetesListObject<CertManagerObject>>,
      );
      const onObject = (obj: CertManagerObject) => {
        this.enqueue(`${kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`);
        // A new or changed issuer may unblock Certificates waiting for it.
        if (kind !== 'Certificate') for (const c of this.#informers[0]?.list() ?? []) onResync(this, c);
      };
      informer.on('add', onObject);
      informer.on('update', onObject);
      informer.on('error', (err: unknown) => {
        if (this.#stopped) return;
        log('warn', 'informer error; restarting', { kind, error: String(err) });
        setTimeout(() => void informer.start().catch((e: unknown) => log('error', 'informer restart failed', { kind, error: String(e) })), 2000);
      });
      this.#informers.push(informer);
      await informer.start();
    }
    // Level-triggered resync: renewals and deleted Secrets are noticed without events.
    setInterval(() => {
      for (const informer of this.#informers) for (const obj of informer.list()) onResync(this, obj);
    }, RESYNC_MS).unref();
    log('info', 'test issuer started', { caCert: this.caCertPath });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const informer of this.#informers) await informer.stop();
    this.#wake?.();
  }

  async run(): Promise<void> {
    while (!this.#stopped) {
      const next = this.#queue.values().next();
      if (next.done) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = null;
        continue;
      }
      const key = next.value;
      this.#queue.delete(key);
      try {
        await this.reconcile(key);
        this.#failures.delete(key);
      } catch (err) {
        const n = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, n);
        const delay = Math.min(30_000, 500 * 2 ** n);
        log('error', 'reconcile failed; retrying', { key, attempt: n, retryInMs: delay, error: err instanceof Error ? err.message : String(err) });
        setTimeout(() => this.enqueue(key), delay).unref();
      }
    }
  }

  async reconcile(key: string): Promise<void> {
    const [kind, namespace, name] = key.split('/') as [Kind, string, string];
    const obj = await this.#get(kind, namespace, name);
    if (!obj) return; // deleted; cert-manager leaves the Secret behind, and so do we
    if (kind === 'Certificate') await this.#reconcileCertificate(obj, namespace, name);
    else
      await this.#setReady(kind, namespace, name, obj, {
        type: 'Ready',
        status: 'True',
        reason: 'TestIssuer',
        message: 'Fulfilled by the paddle-operator e2e test issuer (a stand-in for cert-manager) with its local test CA',
        observedGeneration: obj.metadata?.generation ?? 0,
      });
  }

  async #get(kind: Kind, namespace: string, name: string): Promise<CertManagerObject | null> {
    try {
      const plural = PLURALS[kind];
      return (await (namespace
        ? this.#custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name })
        : this.#custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural, name }))) as CertManagerObject;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async #reconcileCertificate(cert: CertManagerObject, namespace: string, name: string): Promise<void> {
    const spec = cert.spec as unknown as CertificateSpec;
    const generation = cert.metadata?.generation ?? 0;
    const notReady = (reason: string, message: string): Condition => ({ type: 'Ready', status: 'False', reason, message, observedGeneration: generation });

    const ref = spec.issuerRef;
    const group = ref.group || GROUP;
    if (group !== GROUP) return; // an external issuer, not ours to fulfil
    const issuerKind = (ref.kind || 'Issuer') as Kind;
    if (issuerKind !== 'Issuer' && issuerKind !== 'ClusterIssuer') {
      await this.#setReady('Certificate', namespace, name, cert, notReady('InvalidIssuerRef', `issuerRef.kind ${ref.kind} is neither Issuer nor ClusterIssuer`));
      return;
    }
    const issuer = await this.#get(issuerKind, issuerKind === 'Issuer' ? namespace : '', ref.name);
    if (!issuer) {
      await this.#setReady('Certificate', namespace, name, cert, notReady('IssuerNotFound', `${issuerKind} ${ref.name} not found`));
      throw new Error(`${issuerKind} ${ref.name} referenced by Certificate ${namespace}/${name} not found`);
    }
    let lifetime: { durationMs: number; renewBeforeMs: number };
    try {
      lifetime = computeLifetime(spec);
    } catch (err) {
      await this.#setReady('Certificate', namespace, name, cert, notReady('InvalidSpec', (err as Error).message));
      return;
    }

    const specHash = computeSpecHash(spec);
    const secret = await this.#readSecret(namespace, spec.secretName);
    const current = secret ? this.#currentCertificate(secret, specHash) : null;
    const renewAt = current ? new Date(current.notAfter.getTime() - lifetime.renewBeforeMs) : null;
    let issued = current;
    let revision = Number(cert.status?.revision ?? 0);
    if (!current || (renewAt && renewAt.getTime() <= Date.now())) {
      const reason = !secret ? 'secret missing' : !current ? 'spec changed or secret invalid' : 'renewal time reached';
      log('info', 'issuing certificate', { namespace, certificate: name, secret: spec.secretName, reason });
      const out = await issueCertificate(spec, this.caCertPath, this.caKeyPath);
      await this.#applySecret(cert, namespace, spec, specHash, out.certPem, out.keyPem, out.caPem, issuerKind);
      issued = { notBefore: out.notBefore, notAfter: out.notAfter };
      revision += 1;
    }
    if (!issued) return;
    const renewalTime = new Date(issued.notAfter.getTime() - lifetime.renewBeforeMs);
    await this.#setReady('Certificate', namespace, name, cert,
      { type: 'Ready', status: 'True', reason: 'Ready', message: 'Certificate is up to date and has not expired', observedGeneration: generation },
      {
        notBefore: issued.notBefore.toISOString().replace(/\.\d+Z$/, 'Z'),
        notAfter: issued.notAfter.toISOString().replace(/\.\d+Z$/, 'Z'),
        renewalTime: renewalTime.toISOString().replace(/\.\d+Z$/, 'Z'),
        revision,
      });
  }

  async #readSecret(namespace: string, name: string): Promise<V1Secret | null> {
    try {
      return await this.#core.readNamespacedSecret({ namespace, name });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** The Secret's certificate if it is ours, for this spec, and signed by our CA; else null. */
  #currentCertificate(secret: V1Secret, specHash: string): { notBefore: Date; notAfter: Date } | null {
    if (secret.metadata?.annotations?.[SPEC_HASH_ANNOTATION] !== specHash) return null;
    const crt = secret.data?.['tls.crt'];
    if (!crt || !secret.data?.['tls.key']) return null;
    try {
      const x = new X509Certificate(Buffer.from(crt, 'base64'));
      const ca = new X509Certificate(readFileSync(this.caCertPath));
      if (!x.verify(ca.publicKey)) return null;
      return { notBefore: new Date(x.validFrom), notAfter: new Date(x.validTo) };
    } catch {
      return null;
    }
  }

  async #applySecret(cert: CertManagerObject, namespace: string, spec: CertificateSpec, specHash: string,
    certPem: string, keyPem: string, caPem: string, issuerKind: Kind): Promise<void> {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: spec.secretName,
        namespace,
        labels: { ...(cert.spec?.secretTemplate as { labels?: Record<string, string> } | undefined)?.labels, 'controller.cert-manager.io/fao': 'true' },
        annotations: {
          ...(cert.spec?.secretTemplate as { annotations?: Record<string, string> } | undefined)?.annotations,
          'cert-manager.io/certificate-name': cert.metadata?.name ?? '',
          'cert-manager.io/issuer-name': spec.issuerRef.name,
          'cert-manager.io/issuer-kind': issuerKind,
          'cert-manager.io/issuer-group': GROUP,
          'cert-manager.io/common-name': spec.commonName ?? '',
          'cert-manager.io/alt-names': (spec.dnsNames ?? []).join(','),
          'cert-manager.io/ip-sans': (spec.ipAddresses ?? []).join(','),
          [SPEC_HASH_ANNOTATION]: specHash,
        },
      },
      data: { 'tls.crt': b64(certPem), 'tls.key': b64(keyPem), 'ca.crt': b64(caPem) },
    };
    await this.#objects.patch(secret, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  /** Writes the Ready condition (and extra status fields) only when something changed. */
  async #setReady(kind: Kind, namespace: string, name: string, obj: CertManagerObject, cond: Condition, extra: Record<string, unknown> = {}): Promise<void> {
    const prev = obj.status?.conditions?.find((c) => c.type === cond.type);
    const extraChanged = Object.entries(extra).some(([k, v]) => obj.status?.[k] !== v);
    if (sameCondition(prev, cond) && !extraChanged) return;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const body = { status: { ...extra, conditions: computeConditions(obj.status?.conditions, cond, now) } };
    const plural = PLURALS[kind];
    const opts = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    if (namespace) await this.#custom.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace, plural, name, body, fieldManager: FIELD_MANAGER }, opts);
    else await this.#custom.patchClusterCustomObjectStatus({ group: GROUP, version: VERSION, plural, name, body, fieldManager: FIELD_MANAGER }, opts);
    log('info', 'status updated', { kind, namespace, name, ready: cond.status, reason: cond.reason });
  }
}

function onResync(issuer: TestIssuer, obj: CertManagerObject): void {
  const kind = obj.kind as Kind | undefined;
  if (kind && kind in PLURALS) issuer.enqueue(`${kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { kubeconfig: { type: 'string' }, 'ca-cert': { type: 'string' }, 'ca-key': { type: 'string' } },
  });
  const caCert = values['ca-cert'];
  const caKey = values['ca-key'];
  if (!caCert || !caKey) throw new Error('--ca-cert and --ca-key are required');
  const kc = new KubeConfig();
  if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  const issuer = new TestIssuer(kc, caCert, caKey);
  const shutdown = (signal: string) => {
    log('info', 'shutting down', { signal });
    void issuer.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await issuer.start();
  await issuer.run();
}

main().catch((err: unknown) => {
  log('error', 'test issuer failed', { error: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
});
