// Waits on a state, not on a duration: polls `ok` until it holds. The deadline bounds a hang; it
// is not an expected duration (CI machines are loaded).

export async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
