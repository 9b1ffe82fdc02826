// Every example in examples/ (outside invalid/, whose files say what the API server answers)
// says in its first comment lines whether it runs on the local cluster ("Runs here:") or what it
// needs and why it cannot run here ("Needs:"), so nobody mistakes a template for a runnable
// file. e2e/test/examples.e2e.ts applies each of them to the local cluster.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { exampleFiles, leadingComment } from './examples.js';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('examples/', () => {
  const files = exampleFiles();
  it('finds the examples', () => {
    assert.ok(files.some((f) => f.endsWith('minimal.yaml')) && files.some((f) => f.endsWith('gpu.yaml')));
  });
  for (const file of files) {
    it(`${relative(ROOT, file)} says whether it runs here, or what it needs`, () => {
      const head = leadingComment(readFileSync(file, 'utf8'));
      assert.match(head, /^(Runs here|Needs):/m, 'a leading "# Runs here:" or "# Needs:" line');
      if (/^Needs:/m.test(head)) assert.match(head, /local cluster/, 'says why it cannot run on the local cluster');
    });
  }
});
