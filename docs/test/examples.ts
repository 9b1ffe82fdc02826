// The example files of examples/ (invalid/ aside) and their leading comments: shared by
// docs/test/examples.test.ts (the header rule) and e2e/test/examples.e2e.ts (they apply).
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLES = join(ROOT, 'examples');

/** The example YAML files, invalid/ excluded. */
export function exampleFiles(dir = EXAMPLES): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'invalid' ? [] : exampleFiles(join(dir, e.name))) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : [],
  );
}

/** The leading comment block of a YAML file, without the '#'. */
export function leadingComment(text: string): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('#')) break;
    lines.push(line.replace(/^#\s?/, ''));
  }
  return lines.join('\n');
}

