// Lets at most `perTurn` callers through per event-loop turn. When thousands of streams end at
// once (clients gone), their stores would otherwise run back to back (PGlite runs SQL on this
// thread) before the loop gets to the remaining disconnects and aborts their upstream calls.
//
// With `settle`, callers also wait while others keep arriving (a burst of clients leaving): the
// upstream calls still open cost the model's tokens and this machine's CPU, the stores only
// keep a conversation busy a moment longer. No caller waits beyond `maxWaitMs`.

export interface Settle {
  /** Released once nobody has arrived for this long… */
  quietMs: number;
  /** …or once the first in line has waited this long. */
  maxWaitMs: number;
}

export function createLoopGate(perTurn: number, settle?: Settle): () => Promise<void> {
  const waiting: Array<{ open: () => void; since: number }> = [];
  let scheduled = false;
  let lastArrival = 0;
  /** The next release: on the next loop turn, or after `ms` while a burst settles. */
  const schedule = (ms?: number) => {
    scheduled = true;
    if (ms === undefined) setImmediate(release);
    else setTimeout(release, Math.ceil(ms));
  };
  const release = () => {
    scheduled = false;
    if (waiting.length === 0) return;
    if (settle) {
      const at = performance.now();
      const quietIn = lastArrival + settle.quietMs - at;
      const dueIn = waiting[0]!.since + settle.maxWaitMs - at;
      const wait = Math.min(quietIn, dueIn);
      if (wait > 0) return schedule(wait);
    }
    for (const { open } of waiting.splice(0, perTurn)) open();
    if (waiting.length > 0) schedule();
  };
  return () =>
    new Promise<void>((resolve) => {
      lastArrival = performance.now();
      waiting.push({ open: resolve, since: lastArrival });
      if (!scheduled) schedule();
    });
}
