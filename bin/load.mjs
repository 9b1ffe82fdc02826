// Shared by the bin entries: load a TypeScript entry from a checkout (tsx, a dev dependency),
// or its compiled twin under dist/ where the dev dependencies are gone (the image, `npm ci
// --omit=dev` after `make build-ts`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export async function loadEntry(tsPath) {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    return await import(pathToFileURL(ROOT + tsPath).href);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || String(err.message).includes(tsPath)) throw err;
  }
  const js = `${ROOT}dist/${tsPath.replace(/\.ts$/, '.js')}`;
  if (!existsSync(js)) throw new Error(`neither tsx nor ${js} is here: run npm install (a checkout) or make build-ts`);
  return import(pathToFileURL(js).href);
}
