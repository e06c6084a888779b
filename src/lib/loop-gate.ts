// Lets at most `perTurn` callers through per event-loop turn. When thousands of streams end at
// once (clients gone), their stores would otherwise run back to back (PGlite runs SQL on this
// thread) before the loop gets to the remaining disconnects and aborts their upstream calls.

export function createLoopGate(perTurn: number): () => Promise<void> {
  const waiting: Array<() => void> = [];
  let scheduled = false;
  const release = () => {
    scheduled = false;
    for (const open of waiting.splice(0, perTurn)) open();
    if (waiting.length > 0) schedule();
  };
  const schedule = () => {
    scheduled = true;
    setImmediate(release);
  };
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (!scheduled) schedule();
    });
}
