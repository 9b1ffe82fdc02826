// Where the sidecar's log lines go in a pod: stdout for lines that pass the schema, batched per
// event-loop turn (BatchingLineSink), stderr for dead letters. logging.ts validates and routes
// each line to these sinks.

import type { LineSink, LogSinks } from './logging.js';

/**
 * Gathers the lines written during one event-loop turn and hands them to `target` as one chunk
 * (at the end of the turn, on setImmediate), or at once when `maxPendingChars` are pending
 * (string length: UTF-16 units, so bytes for the ASCII lines logs almost always are). A pod's
 * stdout is a pipe, and node writes to a pipe synchronously: one write(2) per line costs a
 * syscall and a wake-up of the log reader for each of a request's two lines (audit + access).
 * Order is kept. `flush()` empties it synchronously (the process's 'exit' hook calls it, so
 * process.exit and a crash lose nothing; only SIGKILL can lose the current turn's lines).
 */
export class BatchingLineSink implements LineSink {
  private pending: string[] = [];
  private pendingChars = 0;
  private scheduled = false;
  /** Chunks handed to the target (the write syscalls a pipe sees). */
  chunks = 0;
  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly target: (chunk: string) => void,
    private readonly maxPendingChars = 64 * 1024,
  ) {}

  write(line: string): void {
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= this.maxPendingChars) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onTurnEnd);
    }
  }

  flush(): void {
    const n = this.pending.length;
    if (n === 0) return;
    const chunk = n === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    this.chunks++;
    this.target(chunk);
  }
}

/**
 * Sinks writing to stdout (valid lines, batched per event-loop turn) and stderr (dead letters,
 * rare, written as they come), as a pod does. Registers the 'exit' flush of the stdout batch.
 */
export function processSinks(onDeadLetter?: (reason: string) => void): LogSinks {
  const out = new BatchingLineSink((chunk) => void process.stdout.write(chunk));
  // stdout is synchronous for files, pipes and terminals on Linux, so this write completes here.
  process.once('exit', () => out.flush());
  return {
    out,
    deadLetter: { write: (l) => void process.stderr.write(l) },
    ...(onDeadLetter ? { onDeadLetter } : {}),
  };
}
