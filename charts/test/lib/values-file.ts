// Reading values.yaml the way a person does: the keys, their documentation comments, and the
// optional keys shown commented out ("# -- (optional) ..." followed by "# key: default").

export const OPTIONAL_MARKER = '# -- (optional)';
const KEY_LINE = /^(\s*)([A-Za-z][A-Za-z0-9_-]*):(\s|$)/;
const COMMENTED_KEY_LINE = /^(\s*)# ([A-Za-z][A-Za-z0-9_-]*):(\s|$)/;

/**
 * values.yaml with every optional key uncommented: the line after an "(optional)" doc block
 * that is a commented-out key at the doc's indentation, and the commented lines nested under it.
 * Returns the text and the dotted paths of the keys it uncommented.
 */
export function uncommentOptionalKeys(text: string): { text: string; optional: string[] } {
  const lines = text.split('\n');
  const optionalLines = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const marker = line.indexOf(OPTIONAL_MARKER);
    if (marker < 0 || line.slice(0, marker).trim() !== '') continue;
    const indent = line.slice(0, marker);
    let j = i + 1;
    // Skip the doc's continuation lines up to the commented-out key at the same indentation.
    while (j < lines.length && (lines[j] as string).startsWith(`${indent}#`)) {
      const m = COMMENTED_KEY_LINE.exec(lines[j] as string);
      if (m && m[1] === indent) break;
      j++;
    }
    const keyMatch = j < lines.length ? COMMENTED_KEY_LINE.exec(lines[j] as string) : null;
    if (!keyMatch || keyMatch[1] !== indent) throw new Error(`values.yaml:${i + 1}: "(optional)" doc without a commented-out key under it`);
    optionalLines.add(j);
    // Nested lines of a commented-out block value: deeper-indented comments right below.
    for (let k = j + 1; k < lines.length; k++) {
      const next = lines[k] as string;
      if (!next.startsWith(`${indent}#   `) && !next.startsWith(`${indent}#  -`)) break;
      optionalLines.add(k);
    }
  }
  const out = lines.map((l, i) => (optionalLines.has(i) ? l.replace(/^(\s*)# /, '$1') : l));
  const text2 = out.join('\n');
  const optional = keyPaths(text2).filter((p) => optionalLines.has(p.line)).map((p) => p.path);
  return { text: text2, optional };
}

export interface KeyLine {
  /** Dotted path of the key, e.g. "image.tag". */
  path: string;
  /** 0-based line number. */
  line: number;
}

/** Every mapping key of a block-style YAML text with its dotted path (list items are not entered). */
export function keyPaths(text: string): KeyLine[] {
  const lines = text.split('\n');
  const stack: { indent: number; key: string }[] = [];
  const out: KeyLine[] = [];
  let listIndent = -1;
  lines.forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const indent = line.length - line.trimStart().length;
    if (listIndent >= 0 && indent > listIndent) return; // inside a list of a parent key
    listIndent = -1;
    if (line.trimStart().startsWith('- ')) {
      listIndent = indent;
      return;
    }
    const m = KEY_LINE.exec(line);
    if (!m) return;
    while (stack.length > 0 && (stack[stack.length - 1] as { indent: number }).indent >= indent) stack.pop();
    const key = m[2] as string;
    out.push({ path: [...stack.map((s) => s.key), key].join('.'), line: i });
    stack.push({ indent, key });
  });
  return out;
}

/** The comment block right above a line (consecutive comment lines), without the "#". */
export function commentAbove(text: string, line: number): string[] {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = line - 1; i >= 0; i--) {
    const l = (lines[i] as string).trim();
    if (!l.startsWith('#')) break;
    out.unshift(l);
  }
  return out;
}
