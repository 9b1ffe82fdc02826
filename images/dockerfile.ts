// Reads the runtime stage of images/*.Dockerfile: the local image builder (images/build.sh) takes
// the image config (user, workdir, env, ports, entrypoint) from here, so the Dockerfile stays the
// one description of the image. The runtime stage may hold only what this reads: `FROM scratch`,
// one `COPY --from=build /rootfs/ /` (the tree images/rootfs.sh assembled in the build stage),
// and config instructions; anything else is an error, so a step added to the Dockerfile cannot
// be silently missing from the locally built image.
//
// CLI: node --import tsx images/dockerfile.ts umoci-args <Dockerfile>   (one argument per line)
//      node --import tsx images/dockerfile.ts rootfs-command <Dockerfile> (the build stage's call)

import { readFileSync } from 'node:fs';
import { argv } from 'node:process';
import { fileURLToPath } from 'node:url';

export interface RuntimeConfig {
  user: string;
  workdir: string;
  env: Record<string, string>;
  exposedPorts: string[];
  entrypoint: string[];
  cmd: string[];
}

export interface Instruction {
  line: number;
  keyword: string;
  args: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i] ?? '';
    if (/^\s*(#.*)?$/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      const next = lines[i] ?? '';
      if (/^\s*#/.test(next)) continue;
      line = line.replace(/\\\s*$/, ' ') + next.trim();
    }
    const m = /^\s*(\S+)\s*(.*)$/.exec(line);
    if (m) out.push({ line: start, keyword: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim() });
  }
  return out;
}

/** The instructions of each stage (split at FROM), in order. */
export function stages(text: string): Instruction[][] {
  const out: Instruction[][] = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') out.push([ins]);
    else if (ins.keyword === 'ARG' && out.length === 0) continue;
    else {
      const last = out[out.length - 1];
      if (!last) throw new Error(`line ${ins.line}: ${ins.keyword} before any FROM`);
      last.push(ins);
    }
  }
  return out;
}

function jsonArray(ins: Instruction): string[] {
  let v: unknown;
  try {
    v = JSON.parse(ins.args);
  } catch {
    throw new Error(`line ${ins.line}: ${ins.keyword} must use the JSON (exec) form, got ${JSON.stringify(ins.args)}`);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`line ${ins.line}: ${ins.keyword} must be a JSON array of strings`);
  return v as string[];
}

/** The `KEY=value` pairs of an ENV instruction (no quotes or spaces inside values). */
function envPairs(ins: Instruction): Array<[string, string]> {
  return ins.args.split(/\s+/).map((pair) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=([^"'\s]*)$/.exec(pair);
    if (!m) throw new Error(`line ${ins.line}: ENV ${JSON.stringify(pair)}: only unquoted KEY=value pairs are supported`);
    return [m[1] ?? '', m[2] ?? ''];
  });
}

export const ROOTFS_COPY = 'COPY --from=build /rootfs/ /';

/** The runtime (last) stage's config; throws on any instruction the local builder would not apply. */
export function runtimeConfig(text: string): RuntimeConfig {
  const all = stages(text);
  const last = all[all.length - 1];
  if (!last || all.length < 2) throw new Error('expected a build stage and a runtime stage');
  const [from, ...rest] = last;
  if (from?.args !== 'scratch') throw new Error(`line ${from?.line}: the runtime stage must be FROM scratch (its files come from images/rootfs.sh), got FROM ${from?.args}`);
  const cfg: RuntimeConfig = { user: '', workdir: '/', env: {}, exposedPorts: [], entrypoint: [], cmd: [] };
  let copied = false;
  for (const ins of rest) {
    switch (ins.keyword) {
      case 'COPY':
        if (`COPY ${ins.args}` !== ROOTFS_COPY || copied) throw new Error(`line ${ins.line}: the runtime stage copies exactly once, "${ROOTFS_COPY}"; got COPY ${ins.args}`);
        copied = true;
        break;
      case 'USER':
        cfg.user = ins.args;
        break;
      case 'WORKDIR':
        cfg.workdir = ins.args;
        break;
      case 'ENV':
        for (const [k, v] of envPairs(ins)) cfg.env[k] = v;
        break;
      case 'EXPOSE':
        for (const p of ins.args.split(/\s+/)) {
          if (!/^\d+(\/(tcp|udp))?$/.test(p)) throw new Error(`line ${ins.line}: EXPOSE ${p}`);
          cfg.exposedPorts.push(p.includes('/') ? p : `${p}/tcp`);
        }
        break;
      case 'ENTRYPOINT':
        cfg.entrypoint = jsonArray(ins);
        break;
      case 'CMD':
        cfg.cmd = jsonArray(ins);
        break;
      default:
        throw new Error(`line ${ins.line}: ${ins.keyword} in the runtime stage is not applied by images/build.sh; put file changes into images/rootfs.sh`);
    }
  }
  if (!copied) throw new Error(`the runtime stage must contain "${ROOTFS_COPY}"`);
  if (!cfg.user) throw new Error('the runtime stage sets no USER');
  if (cfg.entrypoint.length === 0) throw new Error('the runtime stage sets no ENTRYPOINT');
  return cfg;
}

/** The build stage's images/rootfs.sh call: `[name, out, src, modules?]`. */
export function rootfsCommand(text: string): string[] {
  const runs = stages(text).flat().filter((i) => i.keyword === 'RUN' && /images\/rootfs\.sh\b/.test(i.args));
  if (runs.length !== 1) throw new Error(`expected one RUN of images/rootfs.sh in the build stage, found ${runs.length}`);
  const m = /images\/rootfs\.sh\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(\S+))?\s*$/.exec(runs[0]?.args ?? '');
  if (!m) throw new Error(`line ${runs[0]?.line}: images/rootfs.sh <name> <out> <src> [modules] must end the RUN`);
  return [m[1], m[2], m[3], m[4]].filter((x): x is string => x !== undefined);
}

/** umoci config arguments for a RuntimeConfig. */
export function umociArgs(cfg: RuntimeConfig): string[] {
  const args = ['--config.user', cfg.user, '--config.workingdir', cfg.workdir];
  for (const [k, v] of Object.entries(cfg.env)) args.push('--config.env', `${k}=${v}`);
  for (const p of cfg.exposedPorts) args.push('--config.exposedports', p);
  for (const e of cfg.entrypoint) args.push('--config.entrypoint', e);
  for (const c of cfg.cmd) args.push('--config.cmd', c);
  return args;
}

if (argv[1] && fileURLToPath(import.meta.url) === argv[1]) {
  const [cmd, file] = argv.slice(2);
  try {
    const text = readFileSync(file ?? '', 'utf8');
    if (cmd === 'umoci-args') process.stdout.write(`${umociArgs(runtimeConfig(text)).join('\n')}\n`);
    else if (cmd === 'rootfs-command') process.stdout.write(`${rootfsCommand(text).join('\n')}\n`);
    else throw new Error('usage: dockerfile.ts umoci-args|rootfs-command <Dockerfile>');
  } catch (err) {
    process.stderr.write(`images/dockerfile.ts: ${file}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
