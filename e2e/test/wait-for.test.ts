import assert from 'node:assert/strict';
import { waitFor, waitForValue } from '../src/wait-for.js';
import { parseEnvFile } from '../src/paths.js';

describe('waitFor', () => {
  it('returns once the predicate is done', async () => {
    let n = 0;
    await waitFor(() => ++n >= 3, 2000, 'three polls', { intervalMs: 1 });
    assert.equal(n, 3);
  });

  it('fails with what the predicate last saw', async () => {
    let n = 0;
    await assert.rejects(
      waitFor(() => ({ done: false, seen: { phase: 'Pending', poll: ++n } }), 50, 'pod Running', { intervalMs: 5 }),
      (err: Error) => {
        assert.match(err.message, /timed out after 50 ms .* waiting for pod Running; last saw: \{"phase":"Pending","poll":\d+\}/);
        return true;
      },
    );
  });

  it('keeps polling through errors and reports the last one', async () => {
    await assert.rejects(
      waitFor(() => { throw new Error('connection refused'); }, 30, 'the API server', { intervalMs: 5 }),
      /waiting for the API server; last saw: error: connection refused/,
    );
  });

  it('waitForValue returns the accepted value', async () => {
    let n = 0;
    const v = await waitForValue(async () => ++n, (x) => x === 4, 2000, 'four', { intervalMs: 1 });
    assert.equal(v, 4);
  });
});

describe('parseEnvFile', () => {
  it('reads KEY=VALUE lines and skips comments', () => {
    assert.deepEqual(parseEnvFile('# pinned\nA=v1.2.3\n\nB=x=y\n'), { A: 'v1.2.3', B: 'x=y' });
  });
  it('rejects a line that is not KEY=VALUE', () => {
    assert.throws(() => parseEnvFile('A=1\noops\n'), /not a KEY=VALUE line: "oops"/);
  });
});
