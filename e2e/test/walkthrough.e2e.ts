// docs/walkthrough.md, run: every ```sh block of the page, in order, in one bash session
// (set -euo pipefail) from the repository root against the local cluster, as a reader would
// paste them. The page cannot rot: a renamed flag, a changed Secret key or a model the service
// no longer answers like Paddle fails here. The one edit: the namespace gets a unique suffix, so
// a rerun does not meet the last run's namespace while it terminates. The script runs in its
// own process group, killed whole if it fails half-way (its S3 server, operator, pod player).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/index.js';

const DOC = join(REPO_ROOT, 'docs/walkthrough.md');

/** The ```sh blocks of a Markdown text, in order. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}

describe('docs/walkthrough.md runs as written', function () {
  this.timeout(900_000);

  it('has the steps the issue asks for', () => {
    const script = shellBlocks(readFileSync(DOC, 'utf8')).join('\n');
    for (const step of ['export_model.py', 'paddle-model keygen', 'paddle-model sign', 'paddle-model push', 'apply -f', 'paddle-model token', 'curl ', 'triton_http.py', 'get psvc']) {
      assert.ok(script.includes(step), `the walkthrough runs ${step}`);
    }
  });

  it('every sh block succeeds: exported, signed, pushed, fetched, served, answered as Paddle did', async () => {
    const blocks = shellBlocks(readFileSync(DOC, 'utf8'));
    const ns = `walkthrough-${Date.now().toString(36)}`;
    const script = ['set -euo pipefail', ...blocks.map((b) => b.replace(/^export NS=walkthrough$/m, `export NS=${ns}`))].join('\n');
    assert.ok(script.includes(`export NS=${ns}`), 'the namespace line is where the test expects it');
    const child = spawn('bash', ['-c', script], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number>((resolve) => {
      const timer = setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGKILL'), 840_000);
      child.on('exit', (c, signal) => {
        clearTimeout(timer);
        resolve(c ?? (signal ? 128 : 1));
      });
    });
    // Whatever the page left running (it should leave nothing: its last block kills what it started).
    // A process the clean-up killed may take a moment to exit: wait for the group to empty.
    const groupAlive = () => {
      try {
        process.kill(-(child.pid ?? 0), 0);
        return true;
      } catch {
        return false;
      }
    };
    // (a bound on a hang: 60 s, however slow the machine is to reap them)
    for (let i = 0; i < 300 && groupAlive(); i++) await new Promise((r) => setTimeout(r, 200));
    const leftover = groupAlive();
    if (leftover) process.kill(-(child.pid ?? 0), 'SIGKILL');
    assert.equal(code, 0, `the walkthrough failed (exit ${code}):\n${output.slice(-6000)}`);
    assert.equal(leftover, false, 'the clean-up step stops every process the walkthrough started');
    const agreed = output.match(/max abs difference from Paddle [0-9.e+-]+: ok/g) ?? [];
    assert.equal(agreed.length, 2, `curl and tritonclient both answered as Paddle did:\n${output.slice(-3000)}`);
    assert.match(output, /^ModelFetched=True Fetched$/m);
    assert.match(output, /^Ready=True Serving$/m);
    assert.match(output, /signed model\.json, model\.pdiparams/);
  });
});
