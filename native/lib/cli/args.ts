// Argument parsing shared by the paddle-model subcommands: `--flag value`, boolean switches
// named per command, positionals. A UsageError is printed with the usage and exits 2.

export class UsageError extends Error {}

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface Args {
  command: string;
  positional: string[];
  flags: Map<string, string | true>;
}

/** Parses argv after the command; `switches` are the flags that take no value. */
export function parseArgs(command: string, rest: string[], switches: readonly string[] = []): Args {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    if (a.startsWith('--')) {
      const name = a.slice(2);
      if (switches.includes(name)) {
        flags.set(name, true);
        continue;
      }
      const value = rest[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${a} needs a value`);
      flags.set(name, value);
      i++;
    } else positional.push(a);
  }
  return { command, positional, flags };
}

export function flag(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function required(args: Args, name: string, what: string): string {
  const v = flag(args, name);
  if (v === undefined || v === '') throw new UsageError(`${args.command} needs --${name} ${what}`);
  return v;
}

/** The one model directory a command works on. */
export function oneDir(args: Args): string {
  if (args.positional.length !== 1) throw new UsageError(`${args.command} expects exactly one model directory`);
  return args.positional[0] as string;
}

/** An integer flag >= `min` (a byte limit, a retry count); `fallback` when absent. */
export function intFlag(args: Args, name: string, fallback: number, min = 1): number {
  const v = flag(args, name);
  if (v === undefined) return fallback;
  if (!/^[0-9]+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return Number(v);
}
