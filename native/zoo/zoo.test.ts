// The model zoo through the addon: every generated architecture (native/zoo/zoo_models.py, and
// the large paddle.vision.models constructors of zoo_large.py), both formats, batch 1 and 4,
// against paddle.inference's outputs. Tolerance per output: max abs error <= 1e-4 x max(1,
// max |reference|). Run by `make test-zoo`, which generates both zoos first and passes their
// directories in ZOO_DIR and ZOO_LARGE_DIR. Every constructor of paddle.vision.models must be
// in one of them. An architecture listed in known-gaps.json
// must still fail (the test prints why); one that starts to pass fails the test until it is
// taken off the list, and one that fails without being listed fails the test.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Predictor, inspectModel, type Tensor } from '../lib/index.js';
import { decodeTensor } from '../test/fixtures.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FORMATS = ['legacy', 'pir'] as const;
type Format = (typeof FORMATS)[number];
const REL_TOLERANCE = 1e-4;

interface Status {
  ok: boolean;
  error?: string;
}
interface Manifest {
  archs: Record<string, Partial<Record<Format, Status>> & { family?: string; prefix?: string }>;
  visionConstructors?: string[];
}
interface Gap {
  formats: Format[];
  reason: string;
}
type RawTensor = Parameters<typeof decodeTensor>[0];
interface CasesFile {
  outputNames: string[];
  cases: { id: string; inputs: Record<string, RawTensor>; outputs: RawTensor[] }[];
}

const zooDir = process.env.ZOO_DIR ?? '';
const largeDir = process.env.ZOO_LARGE_DIR ?? '';
const gaps = JSON.parse(readFileSync(join(HERE, 'known-gaps.json'), 'utf8')) as Record<string, Gap>;

function readManifest(dir: string): Manifest {
  return dir && existsSync(join(dir, 'manifest.json')) ? (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest) : { archs: {} };
}

function maxAbs(data: Tensor['data']): number {
  let m = 0;
  for (let i = 0; i < data.length; i++) m = Math.max(m, Math.abs(Number(data[i])));
  return m;
}

function maxAbsDiff(a: Tensor['data'], b: Tensor['data']): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(Number(a[i]) - Number(b[i]));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

const ELEMENT_BYTES: Record<Tensor['dtype'], number> = { float32: 4, int64: 8, int32: 4 };
function bytesOf(tensors: Iterable<Tensor>): number {
  let n = 0;
  for (const t of tensors) n += t.data.length * ELEMENT_BYTES[t.dtype];
  return n;
}

// Ops whose output sizes depend on the data (the shape-only pass sizes them for zero inputs).
const DATA_DEPENDENT_OPS = ['multiclass_nms3', 'pd_op.multiclass_nms3', 'masked_select', 'pd_op.masked_select'];

/** Loads one zoo model and compares every case; returns the worst relative error. */
async function check(root: string, arch: string, format: Format): Promise<number> {
  const dir = join(root, arch, format);
  const doc = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as CasesFile;
  const p = await Predictor.load({ modelDir: dir, requireSignature: false });
  const opTypes = Object.keys(inspectModel(dir).opCounts);
  const exactEstimate = !opTypes.some((t) => DATA_DEPENDENT_OPS.includes(t));
  let worst = 0;
  try {
    const names = p.outputs().map((o) => o.name);
    assert.equal(names.length, doc.outputNames.length, `${arch}/${format}: ${names.length} outputs, Paddle has ${doc.outputNames.length}`);
    for (const [k, c] of doc.cases.entries()) {
      const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, decodeTensor(v)]));
      // The shape-only pass (every zoo kernel returns after making its outputs and scratch)
      // plans the first run's arena exactly: estimate = arena + input and output copies.
      const estimate = k === 0 ? p.estimateRunBytes(Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, t.shape]))) : 0;
      const out = await p.run(inputs);
      if (k === 0 && exactEstimate) {
        const expect = p.stats().memory.arenaBytes + bytesOf(Object.values(inputs)) + bytesOf(Object.values(out));
        assert.equal(estimate, expect, `${arch}/${format}/${c.id}: estimateRunBytes vs the run's arena + io`);
      }
      c.outputs.forEach((raw, j) => {
        const ref = decodeTensor(raw);
        const name = names.includes(doc.outputNames[j] as string) ? (doc.outputNames[j] as string) : (names[j] as string);
        const got = out[name];
        const where = `${arch}/${format}/${c.id}/${name}`;
        assert.ok(got, `${where}: output missing`);
        assert.deepEqual(got.shape, ref.shape, `${where}: shape`);
        const tol = REL_TOLERANCE * Math.max(1, maxAbs(ref.data));
        const err = maxAbsDiff(got.data, ref.data);
        assert.ok(err <= tol, `${where}: max abs error ${err} > ${tol}`);
        worst = Math.max(worst, err / Math.max(1, maxAbs(ref.data)));
      });
    }
  } finally {
    p.dispose();
  }
  return worst;
}

describe('model zoo: paddle.inference parity, both formats, batch 1 and 4', function () {
  const results: string[] = [];
  before(function () {
    for (const [env, dir] of [['ZOO_DIR', zooDir], ['ZOO_LARGE_DIR', largeDir]]) {
      assert.ok(dir && existsSync(join(dir, 'manifest.json')), `${env} must name a generated zoo: run \`make test-zoo\``);
    }
    const listed = Object.entries(gaps);
    console.log(`      known gaps (native/zoo/known-gaps.json): ${listed.length === 0 ? 'none' : ''}`);
    for (const [arch, g] of listed) console.log(`        ${arch} [${g.formats.join(', ')}]: ${g.reason}`);
  });
  after(() => {
    console.log('      worst error relative to max(1, max |reference|), per model:');
    for (const line of results) console.log(`        ${line}`);
  });

  const main = readManifest(zooDir);
  const large = readManifest(largeDir);
  // Each architecture with the zoo directory it lives in.
  const archs = [...Object.entries(main.archs).map(([a, e]) => [zooDir, a, e] as const), ...Object.entries(large.archs).map(([a, e]) => [largeDir, a, e] as const)];
  it('the zoo lists every architecture, each known gap names one of them', () => {
    assert.ok(Object.keys(main.archs).length >= 52, `only ${Object.keys(main.archs).length} architectures in the zoo`);
    assert.ok(Object.keys(large.archs).length >= 10, `only ${Object.keys(large.archs).length} architectures in the large zoo`);
    for (const arch of Object.keys(large.archs)) assert.ok(!main.archs[arch], `${arch} is in both zoos`);
    for (const arch of Object.keys(gaps)) assert.ok(main.archs[arch] ?? large.archs[arch], `known-gaps.json lists ${arch}, which the zoo does not have`);
  });

  it('every paddle.vision.models constructor is generated (zoo_models.py or zoo_large.py)', () => {
    // Recorded by the generator from paddle.vision.models.__all__, so a constructor a new Paddle
    // adds fails here until it is generated.
    const constructors = main.visionConstructors ?? [];
    assert.ok(constructors.length >= 30, `the manifest lists ${constructors.length} paddle.vision.models constructors`);
    const uncovered = constructors.filter((c) => !main.archs[c] && !large.archs[c]);
    assert.deepEqual(uncovered, [], 'paddle.vision.models constructors in neither zoo');
  });

  for (const [root, arch, entry] of archs) {
    for (const format of FORMATS) {
      const gap = gaps[arch]?.formats.includes(format) ? gaps[arch] : undefined;
      it(`${arch} / ${format}${gap ? ' (known gap)' : ''}`, async function () {
        const st = entry[format];
        assert.ok(st, `${arch}: no ${format} status in the manifest`);
        let error: unknown;
        let worst = 0;
        try {
          if (!st.ok) throw new Error(`the generator could not export it: ${st.error}`);
          worst = await check(root, arch, format);
        } catch (err) {
          error = err;
        }
        if (gap) {
          assert.ok(error, `${arch}/${format} is listed in known-gaps.json but now loads and matches: take it off the list`);
          const dir = join(root, arch, format);
          const coverage = st.ok ? inspectModel(dir) : undefined;
          const missing = coverage?.unsupported.length ? `; unsupported: ${coverage.unsupported.join(', ')}` : '';
          results.push(`${arch}/${format}: KNOWN GAP (${gap.reason})${missing}`);
          return;
        }
        if (error) throw error;
        assert.deepEqual(inspectModel(join(root, arch, format)).unsupported, []);
        results.push(`${arch}/${format}: ${worst.toExponential(2)}`);
      });
    }
  }
});
