// Watches a file for changes the way Kubernetes mounts change it: a ConfigMap or Secret volume
// swaps the `..data` symlink in the directory, so the file itself may never see an event. We
// watch the file AND its directory, debounce, and also poll (mtime/size/inode) as a fallback
// for file systems without inotify. The callback runs at most once per debounce period.

import { type FSWatcher, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatchHandle {
  close(): void;
}

function signature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

export function watchFiles(paths: string[], onChange: () => void, opts: { debounceMs?: number; pollMs?: number } = {}): FileWatchHandle {
  const debounceMs = opts.debounceMs ?? 100;
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const sigs = new Map(paths.map((p) => [p, signature(p)]));
  const fire = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      for (const p of paths) sigs.set(p, signature(p));
      if (!closed) onChange();
    }, debounceMs);
    timer.unref();
  };
  const names = new Set(paths.map((p) => basename(p)));
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        // `..data` swaps (Kubernetes), the file itself, or an unknown name (some platforms).
        if (name === null || names.has(String(name)) || String(name).startsWith('..')) fire();
      });
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      // Directory missing or not watchable: the poll below still sees changes.
    }
  }
  for (const p of paths) {
    try {
      const w = watch(p, { persistent: false }, () => fire());
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      // The file may not exist yet.
    }
  }
  const poll = setInterval(() => {
    for (const p of paths) {
      if (signature(p) !== sigs.get(p)) {
        fire();
        return;
      }
    }
  }, opts.pollMs ?? 2000);
  poll.unref();
  return {
    close: () => {
      closed = true;
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
