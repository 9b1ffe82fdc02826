// TypeScript view of the PaddleService API (serving.paddle.io/v1alpha1).
//
// The CRD in crds/serving.paddle.io_paddleservices.yaml is the single source of truth for the
// schema; these types mirror it for the operator and the sidecar. A unit test walks the CRD
// schema and checks every property named here exists there (and the reverse), so the two
// cannot drift apart silently.

export const GROUP = 'serving.paddle.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'PaddleService';
export const PLURAL = 'paddleservices';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

export interface SecretKeyRef {
  /** Secret in the PaddleService's namespace. */
  name: string;
  key?: string;
}

export interface PvcSource {
  claimName: string;
  subPath?: string;
}
export interface ImageSource {
  reference: string;
  pullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}
export interface ConfigMapSource {
  name: string;
}
export interface S3Source {
  endpoint?: string;
  bucket: string;
  prefix?: string;
  region?: string;
  credentialsSecretRef: { name: string; accessKeyIdKey?: string; secretAccessKeyKey?: string };
  maxSizeMB?: number;
}
export interface HttpsSource {
  url: string;
  headersSecretRef?: SecretKeyRef;
  caSecretRef?: SecretKeyRef;
  maxSizeMB?: number;
}
export interface ModelSource {
  pvc?: PvcSource;
  image?: ImageSource;
  configMap?: ConfigMapSource;
  /** Downloaded by the model-fetch init container into an emptyDir, verified before serving. */
  s3?: S3Source;
  https?: HttpsSource;
}

export type ModelFormat = 'auto' | 'pdmodel' | 'pir';
export type Backend = 'builtin' | 'paddle';
export type Device = 'gpu' | 'cpu';

export interface ModelSpec {
  /** The only model name the pods serve (allow-list). */
  name: string;
  source: ModelSource;
  format?: ModelFormat;
  verification?: {
    required?: boolean;
    publicKeySecretRef?: SecretKeyRef;
  };
}

export interface RuntimeSpec {
  image?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  backend?: Backend;
  device?: Device;
  cpuThreads?: number;
  maxMemoryMB?: number;
  /** Paddle Inference version the image was built for (CHECKLIST 1.1); a mismatch is refused. */
  paddleVersion?: string;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface ResourcesSpec {
  gpu?: {
    count?: number;
    resourceName?: string;
    product?: string;
  };
  requests?: { cpu?: string; memory?: string };
  limits?: { cpu?: string };
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  affinity?: Record<string, unknown>;
}

export interface AutoscalingSpec {
  minReplicas?: number;
  maxReplicas: number;
  targetP95Ms: number;
  maxGpuMemoryUtilization?: number;
  scaleDownStabilizationSeconds?: number;
}

export interface TlsSpec {
  enabled?: boolean;
  issuerRef?: { name: string; kind?: 'Issuer' | 'ClusterIssuer'; group?: string };
  mutual?: boolean;
}

export interface AuthPolicy {
  path: string;
  domain: string;
  callsPerMinute: number;
}

export interface AuthSpec {
  enabled?: boolean;
  jwksSecretRef?: SecretKeyRef;
  hmacSecretRef?: SecretKeyRef;
  issuer?: string;
  audience?: string;
  clockSkewSeconds?: number;
  policies?: AuthPolicy[];
}

export interface BreakerSpec {
  latencyMultiplier?: number;
  errorRateThreshold?: number;
  consecutiveWindows?: number;
  windowSeconds?: number;
  failureThreshold?: number;
  treatmentFailureThreshold?: number;
  recovery?: {
    initialDelaySeconds?: number;
    maxDelaySeconds?: number;
    maxBackoffAttempts?: number;
    jitter?: number;
    requiredPasses?: number;
    passLatencyMs?: number;
    probeTimeoutMs?: number;
  };
}

export interface DegradationSpec {
  cpuShedWatermark?: number;
  gpuFallbackWatermark?: number;
  sampleIntervalSeconds?: number;
  retryAfterSeconds?: number;
}

/** The bounded run queue (Triton-style queue policy); see the CRD's descriptions. */
export interface QueueSpec {
  maxInFlight?: number;
  maxQueued?: number;
  maxQueueTimeMs?: number;
}

/** Dynamic batching (see the CRD's descriptions). */
export interface BatchingSpec {
  enabled?: boolean;
  maxBatchSize?: number;
  maxQueueDelayMicroseconds?: number;
  preferredBatchSizes?: number[];
}

export interface CanarySpec {
  envId?: string;
  treatmentPercent?: number;
}

export interface MatrixSpec {
  gpuMemoryBucketMB?: number;
  gpuMemoryBuckets?: number;
  latencyBucketMs?: number;
  latencyBuckets?: number;
  seqLenEdges?: number[];
}

export interface ObservabilitySpec {
  otlp?: { endpoint: string };
  audit?: {
    protocol?: 'tls' | 'udp';
    host: string;
    port?: number;
    caSecretRef?: SecretKeyRef;
    appName?: string;
    bufferRecords?: number;
  };
  reportIntervalSeconds?: number;
  reportHeartbeatSeconds?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  matrix?: MatrixSpec;
}

export interface PaddleServiceSpec {
  replicas?: number;
  model: ModelSpec;
  runtime?: RuntimeSpec;
  resources?: ResourcesSpec;
  autoscaling?: AutoscalingSpec;
  tls?: TlsSpec;
  auth?: AuthSpec;
  cors?: { allowedOrigins?: string[] };
  breaker?: BreakerSpec;
  degradation?: DegradationSpec;
  queue?: QueueSpec;
  batching?: BatchingSpec;
  canary?: CanarySpec;
  observability?: ObservabilitySpec;
}

// ---------------------------------------------------------------------------------------------
// Status

export type ConditionType = 'Ready' | 'Available' | 'CertificateReady' | 'ModelVerified' | 'ModelFetched' | 'Degraded' | 'BreakerOpen' | 'AutoscalingConflict';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export type BreakerState = 'closed' | 'open' | 'half-open';
export type ServingMode = 'normal' | 'cpu-fallback' | 'shed';

export interface ModelStatus {
  digest?: string;
  keyId?: string;
  algorithm?: string;
  verified?: boolean;
  verifiedAt?: string;
  backend?: Backend;
  backendVersion?: string;
}

export interface LatencyStatus {
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  baselineP95Ms?: number;
  samples?: number;
}

/** One non-zero cell of M[S, D, L]: indices into the bucket edges, and the count. */
export interface MatrixCell {
  s: number;
  d: number;
  l: number;
  count: number;
}

/** The checklist's M[S,D,L] with its bucket layout; sparse: only non-zero cells are listed. */
export interface MatrixStatus {
  gpuMemoryBucketMB: number;
  latencyBucketMs: number;
  seqLenEdges: number[];
  total: number;
  cells: MatrixCell[];
}

export interface OpProfileEntry {
  op: string;
  totalMs: number;
  share?: number;
}

export interface BreakerThresholds {
  p95Ms?: number;
  errorRate?: number;
  consecutiveWindows?: number;
  failureThreshold?: number;
  treatmentFailureThreshold?: number;
}

export interface BreakerStatus {
  state?: BreakerState;
  trips?: number;
  openPods?: number;
  thresholds?: BreakerThresholds;
  tunedAt?: string;
}

export interface AutoscalingStatus {
  desiredReplicas?: number;
  reason?: string;
  lastScaleTime?: string;
}

/**
 * What each sidecar writes into status.podReports.<podName> (merge patch on the status
 * subresource) every report interval. The operator folds all reports into the fleet view.
 */
export interface PodReport {
  reportedAt: string;
  /** The pod template the pod runs (its serving.paddle.io/template-hash label); absent from older sidecars. */
  templateHash?: string;
  /** The model is loaded, verified (or explicitly unverified), and the self-check passed. */
  ready: boolean;
  selfCheckPassed: boolean;
  model: ModelStatus;
  device: Device;
  mode: ServingMode;
  latency: LatencyStatus;
  requests: { total: number; errors: number };
  /** Cumulative since the pod started; the operator sums across pods. */
  matrix: MatrixStatus;
  opProfile: OpProfileEntry[];
  breaker: { state: BreakerState; trips: number; treatmentState?: BreakerState };
  gpu?: { memoryUsedBytes: number; memoryTotalBytes: number; utilization?: number };
  message?: string;
}

export interface PaddleServiceStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  replicas?: number;
  readyReplicas?: number;
  selector?: string;
  url?: string;
  /** Printer-column helper: "readyReplicas/desired". */
  replicasSummary?: string;
  model?: ModelStatus;
  device?: string;
  latency?: LatencyStatus;
  matrix?: MatrixStatus;
  opProfile?: OpProfileEntry[];
  breaker?: BreakerStatus;
  autoscaling?: AutoscalingStatus;
  podReports?: Record<string, PodReport>;
}

export interface PaddleService {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: PaddleServiceSpec;
  status?: PaddleServiceStatus;
}
