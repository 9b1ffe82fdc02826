#!/usr/bin/env node
// paddle-sidecar: `npx paddle-sidecar --help` from a checkout; the server starts on import
// (sidecar/src/main.ts reads process.argv).
import { loadEntry } from './load.mjs';

await loadEntry('sidecar/src/main.ts');
