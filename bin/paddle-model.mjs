#!/usr/bin/env node
// paddle-model: `npx paddle-model --help` from a checkout; see native/lib/cli/main.ts.
import { loadEntry } from './load.mjs';

const { runCli } = await loadEntry('native/lib/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l) });
