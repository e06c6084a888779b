// Where the server's log lines go: standard output, read by whatever runs Parley (a supervisor's
// journal, a container runtime, `parley serve | a-log-shipper`). That reader can stop reading or go
// away, and neither may stop the server: pino's own destination retried a closed pipe every 100 ms
// for ever at exit (the process never stopped on SIGTERM) and kept every unwritten line in memory.
// Here lines go through Node's stream for the descriptor (a pipe is written without blocking and
// waits on the event loop, never on a worker thread), lines beyond a bound are dropped while the
// reader lags, a reader gone means lines are dropped from then on, and each is said once on
// standard error, the one place left to say it.
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

/** Unwritten log lines kept while the reader lags: about 3,000 request lines. */
export const LOG_BACKLOG_BYTES = 1024 * 1024;

export interface LogOutput {
  write(line: string): void;
  /** Waits until every line is written, at most `withinMs`: the reader may never read again. */
  flush(withinMs: number): Promise<void>;
}

interface Options {
  out?: Writable;
  /** Where the output's own trouble is reported. */
  notice?: (line: string) => void;
  backlogBytes?: number;
}

let stderrWatched = false;

/**
 * Standard error is often the same reader (`2>&1`, the journal): gone with it, a write there
 * (this output's notes, Node's own warnings) fails later, as an error event that nothing would
 * catch, and that killed the server.
 */
function watchStderr(): void {
  if (stderrWatched) return;
  stderrWatched = true;
  process.stderr.on('error', () => {});
}

function noticeOnStderr(line: string): void {
  try {
    process.stderr.write(`parley: ${line}\n`);
  } catch {
    // Standard error gone as well: nobody is left to tell.
  }
}

/**
 * Lines logged in the tick the process exits in (a failed start-up) are written then, once: what
 * the descriptor does not take at once is dropped rather than waited for.
 */
function writeAtExit(out: Writable, text: string): void {
  if (out.writableLength > 0) return;
  try {
    writeSync((out as Writable & { fd?: number }).fd ?? 1, text);
  } catch {
    // Full or closed: the process is leaving either way.
  }
}

export function createLogOutput(options: Options = {}): LogOutput {
  const out = options.out ?? process.stdout;
  if (!options.notice) watchStderr();
  const notice = options.notice ?? noticeOnStderr;
  const backlogBytes = options.backlogBytes ?? LOG_BACKLOG_BYTES;
  let closed = false;
  let dropped = 0;
  // Lines of one turn of the event loop go out in one write: a write per line cost a fifth of
  // the requests a second on /health.
  let batch: string[] = [];
  let batchBytes = 0;
  let scheduled = false;

  out.on('error', (error: NodeJS.ErrnoException) => {
    if (closed) return;
    closed = true;
    batch = [];
    const why = error.code === 'EPIPE' ? 'standard output was closed by its reader' : `writing standard output failed (${error.code ?? error.message})`;
    notice(`log output: ${why}; log lines are dropped from now on`);
  });
  out.on('drain', () => {
    if (dropped === 0 || closed) return;
    notice(`log output: its reader caught up; ${dropped} log line(s) were dropped while it lagged`);
    dropped = 0;
  });

  function send(): void {
    scheduled = false;
    if (batch.length === 0 || closed || out.destroyed) return;
    const text = batch.length === 1 ? batch[0]! : batch.join('');
    batch = [];
    batchBytes = 0;
    out.write(text);
  }
  process.once('exit', () => {
    if (!closed && batch.length > 0) writeAtExit(out, batch.join(''));
  });

  return {
    write(line) {
      if (closed || out.destroyed) return;
      if (out.writableLength + batchBytes >= backlogBytes) {
        if (dropped === 0) notice(`log output: standard output is not being read (${backlogBytes} bytes waiting); log lines are dropped until it is`);
        dropped += 1;
        return;
      }
      batch.push(line);
      batchBytes += line.length;
      if (!scheduled) {
        scheduled = true;
        setImmediate(send);
      }
    },
    async flush(withinMs) {
      send();
      const deadline = Date.now() + withinMs;
      while (!closed && !out.destroyed && out.writableLength > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}
