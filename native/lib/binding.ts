// The raw surface of build/<config>/paddle_native.node and the loader that finds it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type RawDType = 'float32' | 'int64' | 'int32';
export interface RawTensor {
  dtype: RawDType;
  shape: number[];
  data: Float32Array | BigInt64Array | Int32Array;
}
export interface RawTensorInfo {
  name: string;
  dtype: RawDType;
  shape: number[];
}
export interface RawModelInfo {
  format: 'pdmodel' | 'pir';
  backend: 'builtin' | 'paddle';
  backendVersion: string;
  verified: boolean;
  algorithm?: string;
  keyId?: string;
  digest: string;
  verifiedAt?: string;
  parameterBytes: number;
  opCounts: Record<string, number>;
  runOpCounts: Record<string, number>;
}
export interface RawStats {
  runs: number;
  failures: number;
  lastRun?: { latencyMs: number; opTimesMs: Record<string, number> };
  opTimesMs: Record<string, number>;
  memory: { arenaBytes: number; parameterBytes: number };
}
export interface RawPredictor {
  run(inputs: Record<string, RawTensor>): Promise<Record<string, RawTensor>>;
  runSync(inputs: Record<string, RawTensor>): Record<string, RawTensor>;
  inputs(): RawTensorInfo[];
  outputs(): RawTensorInfo[];
  info(): RawModelInfo;
  stats(): RawStats;
  estimateRunBytes(inputs: Record<string, readonly number[]>): number;
  dispose(): void;
}
export interface RawGpuTelemetry {
  available: boolean;
  reason?: string;
  driverVersion?: string;
  devices?: { index: number; name: string; memoryUsedBytes: number; memoryTotalBytes: number; utilizationGpu: number }[];
  processMemoryBytes?: number;
}
export interface Binding {
  Predictor: { load(options: object): Promise<RawPredictor> };
  gpuTelemetry(library?: string): RawGpuTelemetry;
  unsentBytes(fd: number): number;
  supportedOps(): string[];
  inspectModel(modelDir: string, format?: string): RawModelSummary;
  backendVersion: string;
}
export interface RawModelSummary {
  format: 'pdmodel' | 'pir';
  programFile: string;
  paramsFile: string;
  inputs: { name: string; dtype: string; shape: number[] }[];
  outputs: string[];
  opCounts: Record<string, number>;
  unsupported: string[];
  parameters: number;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Every place the addon may live, most specific first. */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const list: string[] = [];
  if (env.PADDLE_NATIVE_ADDON) list.push(resolve(env.PADDLE_NATIVE_ADDON));
  // native/lib (sources, run with tsx) and dist/native/lib (compiled) sit 2 or 3 levels below the root.
  for (const root of [resolve(here, '../..'), resolve(here, '../../..')]) {
    for (const config of ['Release', 'Debug']) list.push(resolve(root, 'build', config, 'paddle_native.node'));
  }
  return [...new Set(list)];
}

/** Loads the first candidate that exists and loads; throws ONE error listing every attempt. */
export function loadBinding(candidates: string[] = addonCandidates()): Binding {
  // OpenBLAS starts one thread per core when it is loaded unless told otherwise; predictors
  // default to 1 math thread (CHECKLIST 1.4), and cpuThreads raises it per load.
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  const require = createRequire(import.meta.url);
  const attempts: string[] = [];
  for (const path of candidates) {
    if (!existsSync(path)) {
      attempts.push(`${path}: not found`);
      continue;
    }
    try {
      return require(path) as Binding;
    } catch (err) {
      attempts.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new Error(
    `paddle_native addon not loadable (run \`make build-native\` or set PADDLE_NATIVE_ADDON). Tried:\n  ${attempts.join('\n  ')}`,
  );
}

let cached: Binding | undefined;
export function binding(): Binding {
  cached ??= loadBinding();
  return cached;
}
