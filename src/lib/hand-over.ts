/**
 * `value` for a closure to take once, then let go. A closure that lives as long as a turn (a
 * queued start, a retry) keeps what it captures for minutes; a caller's whole conversation, up to
 * BODY_LIMIT, must not stay with it (docs/decisions.md, "Memory per open stream, again").
 */
export function handOver<T>(value: T): () => T {
  let held: { value: T } | null = { value };
  return () => {
    if (!held) throw new Error('handed over already');
    const { value: taken } = held;
    held = null;
    return taken;
  };
}
