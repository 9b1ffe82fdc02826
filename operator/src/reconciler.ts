// One reconcile of one PaddleService: gather (informer caches) -> compute (pure builders and
// status) -> apply (only what differs) -> status (only when it changed). Level-triggered: the
// key is all it gets; it never asks what event caused it.

import type { KubernetesObject, V1Deployment, V2HorizontalPodAutoscaler, V1Pod } from '@kubernetes/client-node';
import {
  formatValidationErrors,
  GROUP,
  KIND,
  validatePaddleService,
  type PaddleService,
  type PodReport,
  type SidecarConfig,
} from '../../crds/src/index.js';
import { applyChild, applyReason, driftOf, withSpecHash } from './apply.js';
import { computeDesiredReplicas, computePublishedBaseline } from './autoscale.js';
import {
  ANNOTATIONS,
  buildChildren,
  childNames,
  CONFIG_FILE_KEY,
  type ChildNames,
  resolvePaddleService,
  selectorLabels,
  serviceUrl,
  TEMPLATE_HASH_LABEL,
  type OperatorConfig,
} from './builders/index.js';
import type { Clock } from './clock.js';
import { classifyError, describeError, InvalidSpecError, isNotFound } from './errors.js';
import type { EventRecorder } from './events.js';
import type { KubeClient } from './kube-client.js';
import { objectPath } from './kube-client.js';
import type { OperatorMetrics } from './metrics.js';
import { RESOURCES, type ChildKind } from './resources.js';
import { computeStatus, computeStatusPatch, readyOf, type Blocker, type CertificateLike } from './status/compute-status.js';
import { foldReports, freshFrom, staleAfterMs } from './status/fleet.js';
import { modelFetchCondition } from './status/model-fetch.js';
import { memoryKillBlocker, memoryKills } from './status/memory-kills.js';
import { CONTAINER_NAME } from './builders/deployment.js';

export interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): ReadonlyArray<T>;
}

export interface ReconcilerCaches {
  paddleServices: Cache<PaddleService>;
  children: Record<ChildKind, Cache<KubernetesObject>>;
  pods: Cache<V1Pod>;
  podsSynced: () => boolean;
  /** HorizontalPodAutoscalers (autoscaling/v2), to notice one that targets a PaddleService; absent: not watched. */
  hpas?: Cache<V2HorizontalPodAutoscaler>;
  /** False while the cert-manager Certificate API answers 404 (not installed). */
  certificatesAvailable: () => boolean;
}

export interface ReconcileLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ReconcileResult {
  /** Re-run after this long even if nothing changes (window ends, reports go stale). */
  requeueAfterMs?: number;
  /** Re-run with the key's exponential backoff (a condition that only polling can clear). */
  backoff?: boolean;
  result: 'success' | 'invalid' | 'blocked';
}

interface KeyState {
  belowSince?: number;
  /** uid/generation -> validation outcome, so an unchanged spec is validated once. */
  validated?: { token: string; error?: string };
  /** Secret existence checked at (ms) and result; re-checked at most every SECRET_TTL_MS. */
  secretCheck?: { token: string; at: number; exists: boolean };
  /** When this process last moved the published baseline (ms): status.breaker.tunedAt may lag a skipped status write. */
  baselineMovedAt?: number;
  /** uid/generation -> the pod template hash that spec builds (undefined: it does not build). */
  template?: { token: string; hash?: string };
  /** Per pod: the reportedAt of its report as last seen, and when (this process's clock) that report was first seen. */
  reportsSeen?: Map<string, { reportedAt: string; seenAt: number }>;
}

const SECRET_TTL_MS = 60_000;

/** How long a child we created may be missing from the cache before it is applied again. */
export const WRITE_ECHO_GRACE_MS = 30_000;

/** Ready=False reasons of a PaddleService on its way up (see computeStatus), not problems. */
const STARTING_REASONS: ReadonlySet<string> = new Set(['DeploymentUnavailable', 'CertificateNotReady', 'AwaitingVerifiedPods']);

/**
 * Whether the cached object is older than one we wrote (the watch has not delivered our write
 * yet). resourceVersions are opaque by contract; they are etcd revisions in practice, and when
 * either is not a number this answers false (no skipping, just a harmless extra write).
 */
export function cacheIsBehind(cachedRv: string | undefined, writtenRv: string | undefined): boolean {
  if (!cachedRv || !writtenRv || !/^\d+$/.test(cachedRv) || !/^\d+$/.test(writtenRv)) return false;
  return BigInt(cachedRv) < BigInt(writtenRv);
}

/** The API calls a reconcile makes (KubeClient in production; an in-process fake in unit tests). */
export type ReconcileApi = Pick<KubeClient, 'get' | 'apply' | 'mergePatch'>;

export interface ReconcilerDeps {
  client: ReconcileApi;
  caches: ReconcilerCaches;
  config: OperatorConfig;
  clock: Clock;
  events: EventRecorder;
  metrics?: OperatorMetrics;
  log: ReconcileLogger;
}

/** The key of `#written`: one object we wrote, by kind, namespace and name. */
function writtenKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** Which of childNames() each child kind is named by. */
const CHILD_NAME_OF: Record<ChildKind, keyof ChildNames> = {
  Deployment: 'deployment',
  Service: 'service',
  ConfigMap: 'configMap',
  ServiceAccount: 'serviceAccount',
  Role: 'role',
  RoleBinding: 'roleBinding',
  PodDisruptionBudget: 'pdb',
  Certificate: 'certificate',
};

/**
 * The `#written` keys one PaddleService can have: its own (status patch) and each child's.
 * Exact keys, not a prefix or substring: `name` must not reach `name-2`'s (or `name-config`'s).
 */
export function ownWriteKeys(namespace: string, name: string): string[] {
  const names = childNames(name);
  return [
    writtenKey('PaddleService', namespace, name),
    ...(Object.keys(CHILD_NAME_OF) as ChildKind[]).map((kind) => writtenKey(kind, namespace, names[CHILD_NAME_OF[kind]])),
  ];
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: 'default', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** When a reconcile that held its status write back looks again without an event. */
export const HELD_BACK_RECHECK_MS = 1_000;

export class Reconciler {
  readonly #d: ReconcilerDeps;
  readonly #state = new Map<string, KeyState>();
  /** kind/ns/name -> what we last applied (spec hash) and the resourceVersion it produced. */
  readonly #written = new Map<string, { hash: string; rv: string; at?: number }>();
  /**
   * PaddleServices (by written key) whose last reconcile had a status to write but held it back
   * because the cache had not caught up with our previous status patch: the echo of that patch
   * is then no longer "nothing new" (isOwnWrite answers false), so the reconcile it triggers
   * writes what the held-back one saw. Without this the status waited for the next unrelated
   * event (in ready.ts, the pod's next report 15 s later: Ready came 13-14 s after its inputs).
   */
  readonly #statusHeldBack = new Set<string>();

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { caches, clock } = this.#d;
    const raw = caches.paddleServices.get(name, namespace);
    if (!raw) {
      // Deleted: the children go by owner references (garbage collector); forget our state.
      this.forget(key);
      return { result: 'success' };
    }
    if (raw.metadata.deletionTimestamp) return { result: 'success' };
    const state = this.#state.get(key) ?? {};
    this.#state.set(key, state);
    const now = clock.now();

    // 1. Validate (the API server did already; this is the second line, and covers semantics).
    const token = `${raw.metadata.uid}/${raw.metadata.generation}`;
    if (state.validated?.token !== token) {
      const v = validatePaddleService({ apiVersion: raw.apiVersion, kind: raw.kind, metadata: raw.metadata, spec: raw.spec });
      state.validated = { token, ...(v.valid ? {} : { error: formatValidationErrors(v.errors) }) };
    }
    const ps = resolvePaddleService(raw);
    const names = childNames(name);
    const deployment = caches.children.Deployment.get(names.deployment, namespace) as V1Deployment | undefined;
    const ownPods = caches.podsSynced() ? this.#ownPods(ps) : undefined;
    // The current pod template: what this spec builds (once per generation), else what runs. It
    // only tells pods and reports of an old template from the current one: with neither (a new
    // PaddleService, one scaled to zero) nothing reads it, and step 4 records the hash of the
    // children it builds (the same: the template does not depend on replicas or tuning) instead
    // of a second build here.
    const needTemplate = (ownPods !== undefined && ownPods.length > 0) || Object.values(raw.status?.podReports ?? {}).some((r) => r !== null);
    if (needTemplate && state.template?.token !== token) state.template = { token, ...this.#templateHashOf(ps) };
    const templateHash = needTemplate ? (state.template?.hash ?? deployment?.spec?.template?.metadata?.labels?.[TEMPLATE_HASH_LABEL]) : undefined;
    const pods = ownPods ? podsByTemplate(ownPods, templateHash) : undefined;
    const seenAt = noteReports(state, raw.status?.podReports, now);
    const fleet = foldReports({
      reports: raw.status?.podReports,
      seenAt,
      livePods: pods?.live,
      now,
      spec: ps.spec,
      ...(templateHash !== undefined ? { templateHash } : {}),
      ...(pods ? { oldPods: pods.old } : {}),
    });

    let blocker: Blocker | undefined;
    if (state.validated.error) blocker = { reason: 'InvalidSpec', message: state.validated.error };

    // 2. Replicas: autoscaling from the fleet view, or spec.replicas.
    const current = raw.status?.autoscaling?.desiredReplicas ?? deployment?.spec?.replicas ?? ps.spec.replicas ?? 1;
    const decision = computeDesiredReplicas({
      spec: ps.spec,
      current,
      ...(fleet.latency?.p95Ms !== undefined ? { p95Ms: fleet.latency.p95Ms } : {}),
      ...(fleet.gpuMemoryUtilization !== undefined ? { gpuMemoryUtilization: fleet.gpuMemoryUtilization } : {}),
      now,
      ...(state.belowSince !== undefined ? { belowSince: state.belowSince } : {}),
    });
    if (decision.belowSince !== undefined) state.belowSince = decision.belowSince;
    else delete state.belowSince;
    const desiredReplicas = decision.replicas;

    // 3. Breaker tuning: the published baseline follows what the fleet measures, at a bounded rate.
    const liveConfigMap = caches.children.ConfigMap.get(names.configMap, namespace) as (KubernetesObject & { data?: Record<string, string> }) | undefined;
    const published = publishedBaseline(liveConfigMap);
    // The last move: the status records it (across restarts), this process remembers its own (a
    // status write skipped on a stale cache must not let the next reconcile move again at once).
    const statusTunedAt = raw.status?.breaker?.tunedAt ? Date.parse(raw.status.breaker.tunedAt) : undefined;
    const tunedAt = Math.max(statusTunedAt ?? -Infinity, state.baselineMovedAt ?? -Infinity);
    const tuned = computePublishedBaseline({
      published,
      fleet: fleet.latency?.baselineP95Ms,
      tunedAt: Number.isFinite(tunedAt) ? tunedAt : undefined,
      now,
      tuning: this.#d.config.baselineTuning,
    });
    if (tuned.moved) state.baselineMovedAt = now;
    const baseline = tuned.value;

    // 4. Children. What the API server answered to our applies is newer than the cache (whose
    // watch has not delivered it yet, and whose echo of it will not trigger a reconcile).
    const written: Partial<Record<ChildKind, KubernetesObject>> = {};
    let certificateWanted = ps.spec.tls?.enabled !== false;
    if (!blocker) {
      try {
        const built = buildChildren(ps, this.#d.config, {
          replicas: desiredReplicas,
          ...(baseline !== undefined ? { tuning: { baselineP95Ms: baseline } } : {}),
        });
        if (state.template?.token !== token) state.template = { token, hash: built.templateHash };
        const { objects } = built;
        // Concurrently: no child needs another to exist first (a Deployment whose
        // ServiceAccount is a moment late only delays its pods, and the next reconcile is
        // level-triggered anyway). Every apply is waited for, so a failed one never runs on
        // into the next reconcile of this key; the first failure in build order wins.
        const wanted = objects.filter((obj) => obj.kind !== 'Certificate' || caches.certificatesAvailable());
        const settled = await Promise.allSettled(wanted.map((obj) => this.#applyIfNeeded(key, obj)));
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
        for (const r of settled) if (r.status === 'fulfilled' && r.value?.kind) written[r.value.kind as ChildKind] = r.value;
      } catch (err) {
        if (err instanceof InvalidSpecError) blocker = { reason: 'InvalidSpec', message: err.message };
        else if (classifyError(err) === 'permanent') blocker = { reason: 'ApplyFailed', message: describeError(err) };
        else throw err;
      }
    }
    if (blocker?.reason === 'InvalidSpec') certificateWanted = certificateWanted && !!caches.children.Certificate.get(names.certificate, namespace);

    // 5. The public key Secret must exist (checked at most once a minute while it does).
    let secretMissing = false;
    const keyRef = ps.spec.model.verification?.required !== false ? ps.spec.model.verification?.publicKeySecretRef : undefined;
    if (!blocker && keyRef) {
      const secretToken = `${namespace}/${keyRef.name}`;
      const cached = state.secretCheck;
      const fresh = cached && cached.token === secretToken && cached.exists && now - cached.at < SECRET_TTL_MS;
      if (!fresh) {
        const exists = await this.#secretExists(namespace, keyRef.name);
        state.secretCheck = { token: secretToken, at: now, exists };
      }
      if (!state.secretCheck?.exists) {
        secretMissing = true;
        blocker = {
          reason: 'PublicKeySecretMissing',
          message: `Secret ${namespace}/${keyRef.name} with the model-signing public key does not exist; pods cannot verify the model`,
        };
      }
    }

    // 5b. Model containers the kernel killed at the memory limit: say so while not all are available.
    if (!blocker && ownPods && (deployment?.status?.availableReplicas ?? 0) < desiredReplicas) {
      blocker = memoryKillBlocker(memoryKills(ownPods, CONTAINER_NAME), ps.spec.runtime?.maxMemoryMB);
    }

    // 6. Status.
    const modelFetched = ownPods ? modelFetchCondition(ps, ownPods) : undefined;
    const certificate = (written.Certificate ?? caches.children.Certificate.get(names.certificate, namespace)) as CertificateLike | undefined;
    const deploymentNow = (written.Deployment as V1Deployment | undefined) ?? deployment;
    const thresholdsBaseline = baseline;
    const breaker = ps.spec.breaker ?? {};
    const hpas = this.#hpasTargeting(namespace, name);
    const status = computeStatus({
      ps: raw,
      now,
      desiredReplicas,
      hpas,
      ...(deploymentNow ? { deployment: deploymentNow } : {}),
      certificate: certificateWanted
        ? { wanted: true, ...(certificate ? { object: certificate } : {}), ...(caches.certificatesAvailable() ? {} : { crdMissing: true }) }
        : { wanted: false },
      fleet,
      ...(blocker ? { blocker } : {}),
      ...(modelFetched ? { modelFetched } : {}),
      url: serviceUrl(ps, this.#d.config.clusterDomain),
      selector: Object.entries(selectorLabels(ps))
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      autoscaling: {
        desiredReplicas,
        reason: decision.reason,
        ...(desiredReplicas !== current
          ? { lastScaleTime: new Date(now).toISOString() }
          : raw.status?.autoscaling?.lastScaleTime
            ? { lastScaleTime: raw.status.autoscaling.lastScaleTime }
            : {}),
      },
      breakerThresholds: {
        ...(thresholdsBaseline !== undefined ? { p95Ms: Math.round(thresholdsBaseline * (breaker.latencyMultiplier ?? 1.8) * 10) / 10 } : {}),
        ...(breaker.errorRateThreshold !== undefined ? { errorRate: breaker.errorRateThreshold } : {}),
        ...(breaker.consecutiveWindows !== undefined ? { consecutiveWindows: breaker.consecutiveWindows } : {}),
        ...(breaker.failureThreshold !== undefined ? { failureThreshold: breaker.failureThreshold } : {}),
        ...(breaker.treatmentFailureThreshold !== undefined ? { treatmentFailureThreshold: breaker.treatmentFailureThreshold } : {}),
      },
      ...(baseline !== published && baseline !== undefined
        ? { breakerTunedAt: new Date(now).toISOString() }
        : raw.status?.breaker?.tunedAt
          ? { breakerTunedAt: raw.status.breaker.tunedAt }
          : {}),
    });
    this.#d.metrics?.setConditions(namespace, name, status.conditions);
    const patch = computeStatusPatch(raw.status, status, fleet.pruned.map((p) => p.pod));
    const statusKey = writtenKey('PaddleService', namespace, name);
    const statusBehind = cacheIsBehind(raw.metadata.resourceVersion, this.#written.get(statusKey)?.rv);
    const wroteStatus = patch !== undefined && !statusBehind;
    const heldBack = patch !== undefined && statusBehind;
    if (heldBack) this.#statusHeldBack.add(statusKey);
    else this.#statusHeldBack.delete(statusKey);
    if (wroteStatus) {
      // Only the new resourceVersion is read from the answer.
      const written = await this.#d.client.mergePatch<PaddleService>(objectPath(RESOURCES.paddleService, namespace, name, 'status'), patch, { metadataOnly: true });
      if (written?.metadata?.resourceVersion) this.#written.set(statusKey, { hash: '', rv: written.metadata.resourceVersion });
      this.#d.log.debug({ key, fields: Object.keys(patch.status) }, 'status updated');
    }

    // 7. Events on transitions only, and only with the status write that records the transition
    // (a reconcile on a cache that has not seen our last write would otherwise repeat them).
    // A new PaddleService starts Ready=False while its children come up: that first status is
    // no news, so it gets no Warning (a problem reason, e.g. InvalidSpec, still gets one), nor
    // does a step from one starting reason to the next (DeploymentUnavailable ->
    // CertificateNotReady when the pods are up before the certificate: an Event write per
    // PaddleService, and a Warning about nothing wrong).
    const before = readyOf(raw.status?.conditions);
    const after = readyOf(status.conditions);
    const wasStarting = before === undefined || (before.status === 'False' && STARTING_REASONS.has(before.reason));
    const startingUp = wasStarting && after?.status === 'False' && STARTING_REASONS.has(after.reason);
    if (wroteStatus && after && !startingUp && (before?.status !== after.status || before?.reason !== after.reason)) {
      const msg = status.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
      await this.#d.events.record(raw, after.status === 'True' ? 'Normal' : 'Warning', after.status === 'True' ? 'Ready' : after.reason, msg);
    }
    if (wroteStatus && desiredReplicas !== current && !blocker) {
      await this.#d.events.record(raw, 'Normal', desiredReplicas > current ? 'ScaledUp' : 'ScaledDown', decision.reason);
    }
    if (wroteStatus && baseline !== undefined && baseline !== published && !blocker) {
      const from = published !== undefined ? ` (was ${published} ms; the pods measure ${fleet.latency?.baselineP95Ms} ms)` : '';
      await this.#d.events.record(raw, 'Normal', 'BreakerTuned', `fleet baseline P95 ${baseline} ms published to the pods${from}`);
    }
    const conflictBefore = raw.status?.conditions?.find((c) => c.type === 'AutoscalingConflict');
    const conflictAfter = status.conditions?.find((c) => c.type === 'AutoscalingConflict');
    if (wroteStatus && conflictAfter?.status === 'True' && (conflictBefore?.status !== 'True' || conflictBefore.message !== conflictAfter.message)) {
      await this.#d.events.record(raw, 'Warning', 'AutoscalingConflict', conflictAfter.message);
    }

    // 8. When to look again without an event.
    const waits: number[] = [];
    // A held-back status write also comes back by itself: the echo of our last patch may have
    // reached the cache (and been judged our own) while this reconcile was awaiting its applies.
    if (heldBack) waits.push(HELD_BACK_RECHECK_MS);
    if (decision.recheckAfterMs !== undefined) waits.push(decision.recheckAfterMs);
    if (tuned.recheckAfterMs !== undefined) waits.push(tuned.recheckAfterMs);
    const staleMs = staleAfterMs(ps.spec);
    for (const pod of fleet.reporting) {
      const report = raw.status?.podReports?.[pod];
      const at = report ? freshFrom(pod, report, seenAt) : NaN;
      if (Number.isFinite(at)) waits.push(Math.max(1_000, at + staleMs - now + 1_000));
    }
    const result: ReconcileResult = { result: blocker ? (blocker.reason === 'InvalidSpec' ? 'invalid' : 'blocked') : 'success' };
    if (waits.length > 0) result.requeueAfterMs = Math.min(...waits);
    // A missing Secret or a refused apply clears only by polling: back off per key.
    if (secretMissing || blocker?.reason === 'ApplyFailed') result.backoff = true;
    return result;
  }

  /**
   * Whether `obj` is exactly the version our own last write of it produced (a child we applied,
   * or a PaddleService whose status we patched): its watch event needs no reconcile.
   */
  isOwnWrite(obj: KubernetesObject): boolean {
    const rv = obj.metadata?.resourceVersion;
    if (!rv) return false;
    const key = writtenKey(obj.kind ?? '', obj.metadata?.namespace ?? 'default', obj.metadata?.name ?? '');
    if (this.#statusHeldBack.has(key)) return false;
    return this.#written.get(key)?.rv === rv;
  }

  /** A child was deleted: the next reconcile must apply it again, however recent our last write. */
  forgetWritten(obj: KubernetesObject): void {
    this.#written.delete(writtenKey(obj.kind ?? '', obj.metadata?.namespace ?? 'default', obj.metadata?.name ?? ''));
  }

  /** Whether this reconciler has reconciled `key` (and not forgotten it since). */
  hasState(key: string): boolean {
    return this.#state.has(key);
  }

  /** Forgets per-key state (the key left the cache), its condition series included. */
  forget(key: string): void {
    this.#state.delete(key);
    const { namespace, name } = splitKey(key);
    for (const k of ownWriteKeys(namespace, name)) this.#written.delete(k);
    this.#statusHeldBack.delete(writtenKey('PaddleService', namespace, name));
    this.#d.metrics?.forgetConditions(namespace, name);
  }

  /** Applies `desiredRaw` unless the cache shows it in place; answers what the API server wrote, if anything. */
  async #applyIfNeeded(key: string, desiredRaw: KubernetesObject): Promise<KubernetesObject | undefined> {
    const desired = withSpecHash(desiredRaw);
    const kind = desired.kind as ChildKind;
    const live = this.#d.caches.children[kind].get(desired.metadata?.name ?? '', desired.metadata?.namespace);
    const why = applyReason(desired, live);
    if (!why) return undefined;
    const objKey = writtenKey(kind, desired.metadata?.namespace ?? 'default', desired.metadata?.name ?? '');
    const hash = desired.metadata?.annotations?.[ANNOTATIONS.specHash] ?? '';
    const mine = this.#written.get(objKey);
    // Our own write of this very content has not reached the cache yet: its event will come.
    if (why === 'changed' && mine?.hash === hash && cacheIsBehind(live?.metadata?.resourceVersion, mine.rv)) return undefined;
    // Nor has the create we made moments ago (a busy API server delivers watch events seconds
    // late, and a reconcile can come sooner): the same content needs no second apply. A delete
    // seen since clears the record (forgetWritten), and after WRITE_ECHO_GRACE_MS it is applied again.
    if (why === 'missing' && mine?.hash === hash && mine.at !== undefined && this.#d.clock.now() - mine.at < WRITE_ECHO_GRACE_MS) return undefined;
    try {
      const written = await applyChild(this.#d.client, desired);
      if (written?.metadata?.resourceVersion) this.#written.set(objKey, { hash, rv: written.metadata.resourceVersion, at: this.#d.clock.now() });
      this.#d.log.debug({ key, kind, name: desired.metadata?.name, why, ...(why === 'drifted' ? { where: driftOf(desired, live) } : {}), ...(why === 'changed' ? { from: live?.metadata?.annotations?.[ANNOTATIONS.specHash], to: hash, rv: live?.metadata?.resourceVersion, mineRv: mine?.rv } : {}) }, 'applied child');
      return written;
    } catch (err) {
      this.#d.metrics?.applyErrors.inc({ kind, class: classifyError(err) });
      throw err;
    }
  }

  /** The PaddleService's pods that are not being deleted. */
  #ownPods(ps: PaddleService): V1Pod[] {
    const sel = selectorLabels(ps);
    return this.#d.caches.pods
      .list(ps.metadata.namespace)
      .filter((p) => Object.entries(sel).every(([k, v]) => p.metadata?.labels?.[k] === v) && !p.metadata?.deletionTimestamp);
  }

  /** The pod template hash a spec builds; none when it does not build (the spec is refused). */
  #templateHashOf(ps: PaddleService): { hash?: string } {
    try {
      return { hash: buildChildren(ps, this.#d.config, { replicas: 1 }).templateHash };
    } catch {
      return {};
    }
  }

  /** Names of the HorizontalPodAutoscalers whose scaleTargetRef is this PaddleService. */
  #hpasTargeting(namespace: string, name: string): string[] {
    const hpas = this.#d.caches.hpas?.list(namespace) ?? [];
    return hpas
      .filter((h) => {
        const ref = h.spec?.scaleTargetRef;
        return ref?.kind === KIND && ref.name === name && (ref.apiVersion ?? '').split('/')[0] === GROUP;
      })
      .map((h) => h.metadata?.name ?? '')
      .sort();
  }

  async #secretExists(namespace: string, name: string): Promise<boolean> {
    try {
      await this.#d.client.get(objectPath(RESOURCES.secret, namespace, name));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}

/**
 * Records when this process first saw each pod's current report (a new reportedAt is a new
 * report) and forgets pods that no longer report; answers pod -> first seen (ms).
 */
function noteReports(state: KeyState, reports: Record<string, PodReport | null> | undefined, now: number): Map<string, number> {
  const seen = (state.reportsSeen ??= new Map());
  const out = new Map<string, number>();
  for (const pod of seen.keys()) if (!reports?.[pod]) seen.delete(pod);
  for (const [pod, r] of Object.entries(reports ?? {})) {
    if (!r || typeof r.reportedAt !== 'string') continue;
    let s = seen.get(pod);
    if (s?.reportedAt !== r.reportedAt) {
      s = { reportedAt: r.reportedAt, seenAt: now };
      seen.set(pod, s);
    }
    out.set(pod, s.seenAt);
  }
  return out;
}

/** Names of the live pods, and of those on another template than `templateHash` (a rollout not finished). */
function podsByTemplate(pods: readonly V1Pod[], templateHash: string | undefined): { live: ReadonlySet<string>; old: ReadonlySet<string> } {
  const live = new Set<string>();
  const old = new Set<string>();
  for (const p of pods) {
    const podName = p.metadata?.name ?? '';
    live.add(podName);
    if (templateHash !== undefined && p.metadata?.labels?.[TEMPLATE_HASH_LABEL] !== templateHash) old.add(podName);
  }
  return { live, old };
}

function publishedBaseline(cm: (KubernetesObject & { data?: Record<string, string> }) | undefined): number | undefined {
  const text = cm?.data?.[CONFIG_FILE_KEY];
  if (!text) return undefined;
  try {
    const cfg = JSON.parse(text) as Partial<SidecarConfig>;
    const b = cfg.breaker?.baselineP95Ms;
    return typeof b === 'number' ? b : undefined;
  } catch {
    return undefined;
  }
}

