// Summarises a V8 .cpuprofile: self time per function (file:line) and per package, top N.
//   npx tsx bench/sidecar/profile-summary.ts FILE.cpuprofile [N]

import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [N]');
const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fn = new Map<string, number>();
const pkg = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id);
  if (!n) continue;
  const url = n.callFrame.url.replace(/^file:\/\//, '');
  const short = url.includes('node_modules/') ? url.slice(url.lastIndexOf('node_modules/') + 13) : url.replace(/^.*\/(sidecar|native|bench)\//, '$1/');
  const key = `${n.callFrame.functionName || '(anon)'} ${short}:${n.callFrame.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const p = url === '' ? `(${n.callFrame.functionName})` : url.includes('node_modules/') ? (short.split('/')[0]?.startsWith('@') ? short.split('/').slice(0, 2).join('/') : (short.split('/')[0] ?? '')) : url.startsWith('node:') ? 'node:' + url.slice(5).split('/')[0] : short.split('/').slice(0, 2).join('/');
  pkg.set(p, (pkg.get(p) ?? 0) + us);
}
const top = Number(topArg ?? 40);
const show = (m: Map<string, number>, n: number): void => {
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
};
console.log(`total ${(total / 1e6).toFixed(2)} s sampled\n-- by package/file`);
show(pkg, 25);
console.log('-- by function (self time)');
show(fn, top);
