// paddle-model's entry from earlier releases: the CLI now lives in native/lib/cli/ (one module per
// subcommand group; main.ts dispatches). `npx tsx native/lib/cli.ts ...` keeps working.
import { pathToFileURL } from 'node:url';
import { runCli } from './cli/main.js';

export { runCli, USAGE, type CliIo } from './cli/main.js';
export { modelFiles } from './cli/manifest.js';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCli(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l) });
}
