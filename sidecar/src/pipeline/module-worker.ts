// Starts a worker thread on one of our modules: the compiled .js as it is; from the TypeScript
// sources (tsx in tests and development), through tsx's loader first, since Node 20 workers do
// not inherit the parent's loader hooks.

import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `name` is the module's file name without extension, beside `baseUrl` (an import.meta.url). */
export function startModuleWorker(baseUrl: string, name: string, options: WorkerOptions = {}): Worker {
  const ext = extname(fileURLToPath(baseUrl));
  const url = new URL(`./${name}${ext}`, baseUrl);
  if (ext !== '.ts') return new Worker(url, options);
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
