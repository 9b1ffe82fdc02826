// Temporary directories of the sidecar tests (configs, keys, the test PKI, rsyslog's spool):
// made under the system's temp directory and removed when the test process exits, so a run
// leaves no /tmp/sidecar-* behind (also when a test fails half-way).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A fresh directory named `prefix` + random characters, removed at process exit. */
export function testDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.length === 0) process.once('exit', removeTestDirs);
  made.push(dir);
  return dir;
}

/** Removes every directory testDir made (the exit hook; callable earlier). */
export function removeTestDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
