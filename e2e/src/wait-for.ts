// Polling with a failure message that says what was last seen.

/** A predicate's answer: done or not, and what it saw (reported when the wait times out). */
export type Check = boolean | { done: boolean; seen?: unknown };

export interface WaitOptions {
  /** Delay between polls (default 250 ms). */
  intervalMs?: number;
}

function describeSeen(seen: unknown): string {
  if (seen === undefined) return 'nothing (the predicate never completed or reported)';
  if (seen instanceof Error) return `error: ${seen.message}`;
  if (typeof seen === 'string') return seen;
  try {
    const text = JSON.stringify(seen);
    return text === undefined ? String(seen) : text.length > 2000 ? `${text.slice(0, 2000)}...` : text;
  } catch {
    return String(seen);
  }
}

/**
 * Polls `predicate` until it reports done, or fails after `timeoutMs` with a message naming
 * `describe` and what the predicate last saw (its `seen` value, or the error it last threw).
 */
export async function waitFor(
  predicate: () => Check | Promise<Check>,
  timeoutMs: number,
  describe: string,
  options: WaitOptions = {},
): Promise<void> {
  const interval = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let lastSeen: unknown;
  let polls = 0;
  for (;;) {
    polls += 1;
    try {
      const result = await predicate();
      const done = typeof result === 'boolean' ? result : result.done;
      lastSeen = typeof result === 'boolean' ? result : result.seen;
      if (done) return;
    } catch (err) {
      lastSeen = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms (${polls} polls) waiting for ${describe}; last saw: ${describeSeen(lastSeen)}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, deadline - Date.now()))));
  }
}

/** Like waitFor, for a value: polls `fetch` until `accept` holds and returns that value. */
export async function waitForValue<T>(
  fetch: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs: number,
  describe: string,
  options: WaitOptions = {},
): Promise<T> {
  let value: T | undefined;
  await waitFor(async () => {
    const v = await fetch();
    value = v;
    return { done: accept(v), seen: v };
  }, timeoutMs, describe, options);
  return value as T;
}
