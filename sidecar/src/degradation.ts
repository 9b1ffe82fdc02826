// Degradation tree (CHECKLIST 4.2) on sampled resource watermarks (0..1):
//   CPU > cpuShedWatermark (0.95)                     -> shed (503 + Retry-After)
//   else GPU > gpuFallbackWatermark (0.9)             -> cpu-fallback (run on CPU)
//     (this also covers the table's CPU > 0.8 with GPU > 0.9 -> CPU-only row)
//   else                                              -> normal
// CPU comes from cgroup v2 `cpu.stat` usage_usec against `cpu.max` when present, else the
// process's own CPU time against the host's cores. GPU comes from the predictor's NVML telemetry.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { ServingMode } from '../../crds/src/types.js';
import type { SidecarConfig } from './config.js';
import type { GpuTelemetryLike } from './predictor.js';

export interface ResourceSample {
  /** CPU utilization against the container's limit (0..1). */
  cpu: number;
  /** GPU watermark (max of memory used/total and utilization), or undefined without a GPU. */
  gpu: number | undefined;
  gpuMemoryUsedBytes?: number;
  gpuMemoryTotalBytes?: number;
  gpuUtilization?: number;
  cpuSource: 'cgroup' | 'process';
}

export function computeServingMode(s: Pick<ResourceSample, 'cpu' | 'gpu'>, d: SidecarConfig['degradation']): ServingMode {
  if (s.cpu > d.cpuShedWatermark) return 'shed';
  if (s.gpu !== undefined && s.gpu > d.gpuFallbackWatermark) return 'cpu-fallback';
  return 'normal';
}

/** Parses `usage_usec` from a cgroup v2 cpu.stat text. */
export function parseCpuStatUsageUsec(text: string): number | undefined {
  const m = /^usage_usec (\d+)$/m.exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** Parses cgroup v2 cpu.max ("max 100000" or "200000 100000") into a core count. */
export function parseCpuMaxCores(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || period === undefined) return undefined;
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && Number.isFinite(p) && p > 0 && q > 0 ? q / p : undefined;
}

/** Samples CPU utilization between calls (cgroup v2 when readable, else process time). */
export class CpuSampler {
  private last: { at: bigint; usageUsec: number } | undefined;
  readonly source: 'cgroup' | 'process';
  private readonly cores: number;

  constructor(private readonly cgroupDir = '/sys/fs/cgroup') {
    const usage = this.readCgroupUsage();
    this.source = usage === undefined ? 'process' : 'cgroup';
    let cores: number | undefined;
    if (this.source === 'cgroup') {
      try {
        cores = parseCpuMaxCores(readFileSync(`${cgroupDir}/cpu.max`, 'utf8'));
      } catch {
        cores = undefined;
      }
    }
    this.cores = cores ?? availableParallelism();
  }

  private readCgroupUsage(): number | undefined {
    try {
      return parseCpuStatUsageUsec(readFileSync(`${this.cgroupDir}/cpu.stat`, 'utf8'));
    } catch {
      return undefined;
    }
  }

  private usageUsec(): number {
    if (this.source === 'cgroup') {
      const u = this.readCgroupUsage();
      if (u !== undefined) return u;
    }
    const c = process.cpuUsage();
    return c.user + c.system;
  }

  /** Utilization (0..1) since the previous call; 0 on the first call. */
  sample(): number {
    const now = process.hrtime.bigint();
    const usage = this.usageUsec();
    const prev = this.last;
    this.last = { at: now, usageUsec: usage };
    if (!prev) return 0;
    const elapsedUsec = Number(now - prev.at) / 1000;
    if (elapsedUsec <= 0) return 0;
    return Math.max(0, Math.min(1, (usage - prev.usageUsec) / (elapsedUsec * this.cores)));
  }
}

export function gpuWatermark(t: GpuTelemetryLike, deviceIndex = 0): Pick<ResourceSample, 'gpu' | 'gpuMemoryUsedBytes' | 'gpuMemoryTotalBytes' | 'gpuUtilization'> {
  if (!t.available) return { gpu: undefined };
  const d = t.devices.find((x) => x.index === deviceIndex) ?? t.devices[0];
  if (!d) return { gpu: undefined };
  const mem = d.memoryTotalBytes > 0 ? d.memoryUsedBytes / d.memoryTotalBytes : 0;
  const util = d.utilizationGpu > 1 ? d.utilizationGpu / 100 : d.utilizationGpu;
  return { gpu: Math.max(mem, util), gpuMemoryUsedBytes: d.memoryUsedBytes, gpuMemoryTotalBytes: d.memoryTotalBytes, gpuUtilization: util };
}

export type ResourceSampler = () => ResourceSample;

export function createResourceSampler(gpuTelemetry: (() => GpuTelemetryLike) | undefined, deviceIndex = 0): ResourceSampler {
  const cpu = new CpuSampler();
  return () => ({
    cpu: cpu.sample(),
    cpuSource: cpu.source,
    ...(gpuTelemetry ? gpuWatermark(gpuTelemetry(), deviceIndex) : { gpu: undefined }),
  });
}
