// Series of one metric family read from the Prometheus text exposition format, as a scrape
// sees them: for tests that evaluate alert rules against what a component's /metrics serves.

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Every series of `metric` in `text`, with its labels (escapes kept as written) and value. */
export function parseExposition(text: string, metric: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)$/.exec(line);
    if (!m || m[1] !== metric) continue;
    const labels: Record<string, string> = {};
    for (const p of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[p[1] ?? ''] = p[2] ?? '';
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}
