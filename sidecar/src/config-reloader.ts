// Hot reload of the config file: watch the file and its directory (ConfigMap updates swap a
// symlink), parse + validate, then hand the new config to `apply`. An invalid file, or one
// `apply` refuses, is logged and the last good config stays.

import { readFileSync } from 'node:fs';
import { parseSidecarConfig, type SidecarConfig } from './config.js';
import { watchFiles, type FileWatchHandle } from './file-watch.js';

export type ReloadOutcome = { ok: true; config: SidecarConfig } | { ok: false; error: string };

export function readConfigFile(path: string): ReloadOutcome {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, error: `cannot read config file ${path}: ${(err as Error).message}` };
  }
  return parseSidecarConfig(text);
}

export interface ConfigReloader extends FileWatchHandle {
  /** Reads and applies the file now (what the watcher calls). */
  reload(): Promise<ReloadOutcome>;
}

export function watchConfigFile(
  path: string,
  apply: (c: SidecarConfig) => Promise<void>,
  report: (outcome: ReloadOutcome) => void,
  opts: { debounceMs?: number; pollMs?: number } = {},
): ConfigReloader {
  let lastText: string | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  const reload = async (): Promise<ReloadOutcome> => {
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      text = undefined;
    }
    if (text !== undefined && text === lastText) return { ok: false, error: 'unchanged' };
    const parsed = readConfigFile(path);
    let outcome: ReloadOutcome = parsed;
    if (parsed.ok) {
      try {
        await apply(parsed.config);
        lastText = text;
      } catch (err) {
        outcome = { ok: false, error: `config not applied: ${(err as Error).message}` };
      }
    }
    report(outcome);
    return outcome;
  };
  const handle = watchFiles([path], () => {
    chain = chain.then(reload);
  }, opts);
  return {
    reload: () => {
      const p = chain.then(reload);
      chain = p;
      return p;
    },
    close: () => handle.close(),
  };
}
