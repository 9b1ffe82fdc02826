// Stage 6, model allow-list: only the configured model name (and version "1" where a path or
// message names a version) is served; 404 otherwise. Nothing from the request reaches the disk.

import { SidecarError } from '../errors.js';
import { MODEL_VERSION } from './call.js';

export function checkModel(served: string, name: unknown, version: unknown): void {
  if (name !== served) throw new SidecarError('model_not_found', `model ${JSON.stringify(String(name).slice(0, 64))} is not served here`);
  if (version !== undefined && version !== MODEL_VERSION) {
    throw new SidecarError('model_not_found', `model ${served} has no version ${JSON.stringify(String(version).slice(0, 32))}`);
  }
}
