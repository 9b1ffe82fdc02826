// A small Dockerfile reader for the image tests: instructions (continuation lines joined,
// comments dropped) grouped into build stages.

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const lines = text.split('\n');
  const instructions: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] as string;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    while (line.trimEnd().endsWith('\\') && i + 1 < lines.length) {
      line = `${line.trimEnd().slice(0, -1)} ${(lines[++i] as string).trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (m) instructions.push({ op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: start + 1 });
  }
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ from: m?.[1] ?? ins.args, ...(m?.[2] ? { name: m[2] } : {}), instructions: [] });
    } else if (stages.length === 0) {
      args.push(ins);
    } else {
      (stages[stages.length - 1] as Stage).instructions.push(ins);
    }
  }
  return { args, stages };
}

/** `COPY [--from=x] src... dest` -> sources, destination and the stage it copies from. */
export function copyOf(ins: Instruction): { from?: string; sources: string[]; dest: string } {
  const words = ins.args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift() as string;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
  }
  const dest = words.pop() as string;
  return { ...(from ? { from } : {}), sources: words, dest };
}

/** The make targets a RUN instruction invokes (`make a b && ...`). */
export function makeTargets(run: string): string[] {
  const out: string[] = [];
  for (const part of run.split(/&&|;/)) {
    const words = part.trim().split(/\s+/);
    if (words[0] !== 'make') continue;
    out.push(...words.slice(1).filter((w) => !w.startsWith('-') && !w.includes('=')));
  }
  return out;
}
