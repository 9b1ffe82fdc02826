// Fleet-wide rate limits: how close N pods, each enforcing its 1/N share of a policy (the
// operator's auth.rateShare), come to the policy's number for the whole PaddleService.
//
// Each pod is the sidecar's real RateLimiter (sidecar/src/rate-limiter.ts) given the rate the
// app gives it (callsPerMinute x rateShare, the share from the operator's computeRateShare).
// What is simulated is the Service in front of them: every request goes to a pod drawn
// uniformly at random, as kube-proxy's iptables and nftables modes pick an endpoint. Time is a
// manual clock, so a run of simulated minutes takes milliseconds and is reproducible (seeded).
//
// Three figures per (policy rate, replicas), each against the policy's number:
//   - steady: one subject offering 3 x the rate for 30 minutes; admitted per minute after the
//     first minute, vs callsPerMinute (the long-run error);
//   - burst: the same subject's first minute, vs what one pod alone admits in its first minute
//     (a fresh bucket holds one minute's worth and refills during the minute: about 2x the rate);
//   - under: one subject offering 0.8 x the rate for 30 minutes; the share of its requests
//     refused although the service as a whole is under the policy (uneven routing).
// The reference row is the per-pod semantics this replaced (every pod enforcing the whole rate).
//
// Run: npx tsx bench/operator/fleet-rates.ts   (or make bench-fleet-rates)

import { computeRateShare } from '../../operator/src/builders/config-map.js';
import type { Clock } from '../../sidecar/src/clock.js';
import { RateLimiter } from '../../sidecar/src/rate-limiter.js';

class ManualClock implements Clock {
  t = 0;
  now(): number {
    return this.t;
  }
  setTimeout(): unknown {
    return undefined;
  }
  clearTimeout(): void {}
}

/** mulberry32: a small seeded PRNG, so every run routes the same way. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  admittedPerMinute: number[];
  offered: number;
  admitted: number;
}

/** One subject offering `offeredPerMinute` evenly spaced for `minutes` to `replicas` pods, each with `share` of `callsPerMinute`. */
function simulate(callsPerMinute: number, replicas: number, share: number, offeredPerMinute: number, minutes: number, seed: number): Run {
  const clock = new ManualClock();
  const pods = Array.from({ length: replicas }, () => new RateLimiter(10, clock));
  const random = prng(seed);
  const gapMs = 60_000 / offeredPerMinute;
  const perMinute = Array.from({ length: minutes }, () => 0);
  let offered = 0;
  let admitted = 0;
  for (let t = 0; t < minutes * 60_000; t += gapMs) {
    clock.t = t;
    const pod = pods[Math.floor(random() * replicas)] as RateLimiter;
    offered++;
    if (pod.take('subject', 'model_inference', callsPerMinute * share).ok) {
      admitted++;
      const m = Math.floor(t / 60_000);
      perMinute[m] = (perMinute[m] ?? 0) + 1;
    }
  }
  return { admittedPerMinute: perMinute, offered, admitted };
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;

/** What a single pod with the whole rate admits in the first minute (the burst the policy means). */
function singlePodBurst(callsPerMinute: number): number {
  return simulate(callsPerMinute, 1, 1, 3 * callsPerMinute, 1, 1).admittedPerMinute[0] ?? 0;
}

function row(callsPerMinute: number, replicas: number, share: number): string {
  const minutes = 30;
  const seeds = [1, 2, 3, 4, 5];
  let steadySum = 0;
  let burstSum = 0;
  let refusedUnder = 0;
  let offeredUnder = 0;
  for (const seed of seeds) {
    const over = simulate(callsPerMinute, replicas, share, 3 * callsPerMinute, minutes, seed);
    const steady = over.admittedPerMinute.slice(1);
    steadySum += steady.reduce((a, b) => a + b, 0) / steady.length;
    burstSum += over.admittedPerMinute[0] ?? 0;
    const under = simulate(callsPerMinute, replicas, share, 0.8 * callsPerMinute, minutes, seed + 100);
    refusedUnder += under.offered - under.admitted;
    offeredUnder += under.offered;
  }
  const steady = steadySum / seeds.length;
  const burst = burstSum / seeds.length;
  return [
    String(callsPerMinute).padStart(6),
    String(replicas).padStart(8),
    share.toFixed(6).padStart(10),
    `${steady.toFixed(1)}/min (${pct(steady / callsPerMinute - 1)})`.padStart(24),
    `${burst.toFixed(1)} (${pct(burst / singlePodBurst(callsPerMinute) - 1)})`.padStart(20),
    `${((refusedUnder / offeredUnder) * 100).toFixed(1)} %`.padStart(14),
  ].join('  ');
}

const header = ['  rate', 'replicas', '     share', '      steady (3x offered)', 'first minute vs 1 pod', 'refused at 0.8x'].join('  ');
console.log('fleet-wide rate limits: N sidecar RateLimiters behind a uniformly random Service, one subject, 30 simulated minutes x 5 seeds');
console.log('configuration: share = computeRateShare(replicas) (operator), pod rate = callsPerMinute x share, bucket = max(1, pod rate) (sidecar)');
console.log('');
console.log('operator share (this build):');
console.log(header);
for (const rate of [60, 20, 5]) for (const n of [1, 3, 10]) console.log(row(rate, n, computeRateShare(n)));
console.log('');
console.log('reference: per-pod limits (the policy enforced whole in every pod, before this change):');
console.log(header);
for (const rate of [60, 5]) for (const n of [1, 3, 10]) console.log(row(rate, n, 1));
