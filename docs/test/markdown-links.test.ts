// Every link in the repository's Markdown points inside the repository, at a file or folder that
// exists: no http(s) links (the docs must stand on their own and cannot rot with someone else's
// site), no path that climbs out of the checkout. Inline links, images and reference
// definitions are all checked; `#anchor` links within a page are left alone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Link targets of a Markdown text, outside fenced code blocks and inline code. */
export function linkTargets(markdown: string): string[] {
  const text = markdown.replace(/^```[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, '');
  const inline = [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? '');
  const refs = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1] ?? '');
  const autolinks = [...text.matchAll(/<([a-z][a-z0-9+.-]*:[^>\s]+)>/gi)].map((m) => m[1] ?? '');
  return [...inline, ...refs, ...autolinks];
}

/** Why a link target is not acceptable in `file`, or undefined when it is. */
export function linkProblem(file: string, target: string, root = ROOT): string | undefined {
  if (target.startsWith('#')) return undefined;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return `points outside the repository (${target})`;
  const path = decodeURIComponent(target.split('#')[0] ?? '');
  const abs = path.startsWith('/') ? join(root, path) : resolve(dirname(join(root, file)), path);
  if (relative(root, abs).startsWith('..')) return `climbs out of the repository (${target})`;
  if (!existsSync(abs)) return `names ${relative(root, abs)}, which does not exist`;
  return undefined;
}

describe('Markdown links', () => {
  it('the checker refuses outside and broken links and accepts good ones', () => {
    assert.deepEqual(linkTargets('see [a](b.md), ![i](img/x.png "t"), `[not](code)`, <https://x.y>\n\n[r]: ../up.md\n```\n[no](fence)\n```'), [
      'b.md',
      'img/x.png',
      '../up.md',
      'https://x.y',
    ]);
    assert.match(linkProblem('README.md', 'https://example.com') ?? '', /outside the repository/);
    assert.match(linkProblem('README.md', '../shared/STYLE.md') ?? '', /climbs out/);
    assert.match(linkProblem('README.md', 'docs/nope.md') ?? '', /does not exist/);
    assert.equal(linkProblem('README.md', 'docs/walkthrough.md#2-export-the-model-with-paddlejitsave'), undefined);
    assert.equal(linkProblem('docs/walkthrough.md', '../e2e/README.md'), undefined);
  });

  it('every tracked Markdown file links only inside the repository, to things that exist', () => {
    const files = execFileSync('git', ['ls-files', '*.md'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.ok(files.length > 5, 'found the Markdown files');
    const problems = files.flatMap((f) => linkTargets(readFileSync(join(ROOT, f), 'utf8')).flatMap((t) => {
      const p = linkProblem(f, t);
      return p ? [`${f}: ${t}: ${p}`] : [];
    }));
    assert.deepEqual(problems, []);
  });
});
