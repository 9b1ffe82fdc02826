import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { load, loadAll } from 'js-yaml';

export const EXAMPLES_DIR = new URL('../../examples/', import.meta.url).pathname;

export interface InvalidExample {
  file: string;
  expect: string;
  doc: unknown;
}

export function loadYamlDocs(file: string): unknown[] {
  return loadAll(readFileSync(file, 'utf8')).filter((d) => d !== null && d !== undefined);
}

export function invalidExamples(): InvalidExample[] {
  const dir = join(EXAMPLES_DIR, 'invalid');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const text = readFileSync(join(dir, f), 'utf8');
      const match = /^# expect: (.+)$/m.exec(text);
      if (!match?.[1]) throw new Error(`${f}: first line must be '# expect: <message>'`);
      return { file: f, expect: match[1], doc: load(text) };
    });
}
