// Predictors for the sidecar tests.
//
// `loadMlpPredictor()` loads the REAL native predictor (native/lib/index.ts) with the signed MLP
// fixture (legacy format, RSA test key): every integration test of the app uses it.
//
// `InProcessMlp` is an in-process fake of our own with the fixture's input/output contract, and
// `ScriptedPredictor` extends it so a test can script latency and failures (breaker, readiness).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Predictor } from '../../../native/lib/index.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelInfoLike, PredictorLike, PredictorStatsLike, Tensor, TensorInfo } from '../../src/predictor.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const MLP_DIR = join(ROOT, 'native/fixtures/models/mlp/legacy');
export const RSA_PUB = join(ROOT, 'native/fixtures/keys/test-only-rsa2048.pub.pem');

export const MLP_INPUT = 'x';
export const MLP_OUTPUT = 'softmax_0.tmp_0';
export const MLP_FEATURES = 64;
export const MLP_CLASSES = 10;

function manifestDigest(dir: string): { digest: string; keyId: string; algorithm: string } {
  const sig = JSON.parse(readFileSync(join(dir, 'signature.json'), 'utf8')) as { keyId: string; algorithm: string; files: Record<string, string> };
  const manifest = Object.keys(sig.files)
    .sort()
    .map((n) => `${createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')}  ${n}\n`)
    .join('');
  return { digest: createHash('sha256').update(manifest).digest('hex'), keyId: sig.keyId, algorithm: sig.algorithm };
}

/** Stand-in with the MLP fixture's contract: x [-1,64] float32 -> softmax [-1,10]. */
export class InProcessMlp implements PredictorLike {
  runs = 0;
  failures = 0;
  private readonly meta = manifestDigest(MLP_DIR);
  inputs(): TensorInfo[] {
    return [{ name: MLP_INPUT, dtype: 'float32', shape: [-1, MLP_FEATURES] }];
  }
  outputs(): TensorInfo[] {
    return [{ name: MLP_OUTPUT, dtype: 'float32', shape: [-1, MLP_CLASSES] }];
  }
  info(): ModelInfoLike {
    return { format: 'pdmodel', backend: 'builtin', backendVersion: 'in-process-fake', verified: true, digest: this.meta.digest, keyId: this.meta.keyId, algorithm: this.meta.algorithm, verifiedAt: new Date(0).toISOString(), parameterBytes: 0 };
  }
  stats(): PredictorStatsLike {
    return { runs: this.runs, failures: this.failures, opTimesMs: { matmul_v2: 0.02 * this.runs, softmax: 0.005 * this.runs }, memory: { arenaBytes: 0, parameterBytes: 0 } };
  }
  dispose(): void {}
  async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const x = inputs[MLP_INPUT];
    if (!x || x.shape.length !== 2 || x.shape[1] !== MLP_FEATURES || !(x.data instanceof Float32Array)) {
      this.failures++;
      const e = new Error('input x must be float32 [-1, 64]');
      e.name = 'ShapeError';
      throw e;
    }
    await new Promise((r) => setImmediate(r));
    this.runs++;
    const batch = x.shape[0] ?? 0;
    const out = new Float32Array(batch * MLP_CLASSES);
    for (let b = 0; b < batch; b++) {
      const logits = new Array<number>(MLP_CLASSES).fill(0);
      for (let c = 0; c < MLP_CLASSES; c++) {
        for (let f = 0; f < MLP_FEATURES; f++) logits[c] = (logits[c] ?? 0) + (x.data[b * MLP_FEATURES + f] ?? 0) * Math.sin(c * 7 + f);
      }
      const max = Math.max(...logits);
      const exps = logits.map((l) => Math.exp(l - max));
      const sum = exps.reduce((a, v) => a + v, 0);
      exps.forEach((v, c) => (out[b * MLP_CLASSES + c] = v / sum));
    }
    return { [MLP_OUTPUT]: { dtype: 'float32', shape: [batch, MLP_CLASSES], data: out } };
  }
}

/** The real native predictor (the addon must be built: make test-sidecar depends on build-native). */
export async function loadMlpPredictor(): Promise<PredictorLike> {
  return Predictor.load({ modelDir: MLP_DIR, publicKeyPem: readFileSync(RSA_PUB, 'utf8'), requireSignature: true, cpuThreads: 1 });
}

/** A predictor whose behaviour the test scripts: latency, failures, counting. */
export class ScriptedPredictor extends InProcessMlp {
  latencyMs = 0;
  failing = false;
  calls = 0;
  /** The leading dimension of every call's first input, in order (tells a test's request from the self-check probes). */
  readonly rows: number[] = [];
  override async run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    this.calls++;
    this.rows.push(Object.values(inputs)[0]?.shape[0] ?? 0);
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    if (this.failing) {
      this.failures++;
      throw new Error('scripted predictor failure');
    }
    return super.run(inputs);
  }
}
