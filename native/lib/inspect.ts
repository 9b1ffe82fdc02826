// Coverage of a model directory before anyone deploys it: which files make the model, its
// inputs and outputs, every op type with its count, and the op types the builtin backend
// cannot run (all of them, not only the first). Parses the program file only: no signature
// check, no parameters, no engine; a malformed file is a ModelFormatError like at load.
import { binding, type RawModelSummary } from './binding.js';
import { toPaddleError } from './errors.js';

export interface ModelCoverage {
  format: 'pdmodel' | 'pir';
  programFile: string;
  paramsFile: string;
  /** shape: -1 marks a dynamic dimension; dtype as declared by the program. */
  inputs: { name: string; dtype: string; shape: number[] }[];
  outputs: string[];
  /** PIR programs count pd_op names (pd_op.conv2d), legacy programs their op types. */
  opCounts: Record<string, number>;
  /** Op types the builtin backend lacks, sorted, "name (xN)" when N > 1. Empty: it loads. */
  unsupported: string[];
  parameters: number;
  /** Ops the builtin backend runs, out of all ops (feed and fetch included). */
  supportedOps: number;
  totalOps: number;
}

export function inspectModel(modelDir: string, format: 'auto' | 'pdmodel' | 'pir' = 'auto'): ModelCoverage {
  let raw: RawModelSummary;
  try {
    raw = binding().inspectModel(modelDir, format);
  } catch (err) {
    throw toPaddleError(err);
  }
  const missing = new Set(raw.unsupported.map((u) => u.replace(/ \(x\d+\)$/, '')));
  let totalOps = 0;
  let unsupportedOps = 0;
  for (const [type, n] of Object.entries(raw.opCounts)) {
    totalOps += n;
    if (missing.has(type)) unsupportedOps += n;
  }
  return { ...raw, supportedOps: totalOps - unsupportedOps, totalOps };
}

/** Human-readable report, one fact per line (what `paddle-model inspect --coverage` prints). */
export function formatCoverage(dir: string, c: ModelCoverage): string[] {
  const shape = (s: number[]) => `[${s.map((d) => (d < 0 ? '?' : String(d))).join(', ')}]`;
  const lines = [
    `model: ${dir} (${c.format}: ${c.programFile}, ${c.paramsFile}, ${c.parameters} parameters)`,
    ...c.inputs.map((i) => `input: ${i.name} ${i.dtype} ${shape(i.shape)}`),
    ...c.outputs.map((o) => `output: ${o}`),
    `ops: ${c.totalOps} (${Object.keys(c.opCounts).length} types), builtin backend runs ${c.supportedOps}`,
    ...Object.entries(c.opCounts)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([t, n]) => `  ${t} x${n}`),
  ];
  lines.push(
    c.unsupported.length === 0
      ? 'coverage: complete (the builtin backend runs every op)'
      : `coverage: INCOMPLETE, ${c.unsupported.length} unsupported op type(s): ${c.unsupported.join(', ')}`,
  );
  return lines;
}
