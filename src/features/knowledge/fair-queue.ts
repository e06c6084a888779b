// Uploads of every tenant share one chunking worker. Served first come, first served, one account
// that queued a few large documents made every other tenant's upload wait for all of them; taken
// in turns, another tenant's upload waits for the job in progress and at most one job of each
// owner that was waiting before it.

export interface FairQueue<T> {
  push(owner: string, item: T): void;
  /** The next item, from the owner whose turn it is; that owner waits out of turn until `done`. */
  next(): { owner: string; item: T } | undefined;
  /** The owner's item taken by `next` has ended: the owner's next item, if any, waits behind the others. */
  done(owner: string): void;
  /** Every waiting item, removed (for shutting down). */
  drain(): T[];
  readonly size: number;
}

export function createFairQueue<T>(): FairQueue<T> {
  const waiting = new Map<string, T[]>();
  // Owners with items waiting, in the order their turn comes (a Set keeps insertion order).
  const turns = new Set<string>();
  // Owners whose item was taken and is not done: they rejoin the turns at the back, so an owner
  // who arrived while their item was in progress is served before their next one.
  const serving = new Set<string>();
  let size = 0;

  return {
    push(owner, item) {
      const items = waiting.get(owner);
      if (items) items.push(item);
      else waiting.set(owner, [item]);
      if (!serving.has(owner)) turns.add(owner);
      size++;
    },
    next() {
      const owner = turns.values().next().value;
      if (owner === undefined) return undefined;
      turns.delete(owner);
      const items = waiting.get(owner)!;
      const item = items.shift()!;
      if (items.length === 0) waiting.delete(owner);
      serving.add(owner);
      size--;
      return { owner, item };
    },
    done(owner) {
      serving.delete(owner);
      if (waiting.has(owner)) turns.add(owner);
    },
    drain() {
      const items = [...waiting.values()].flat();
      waiting.clear();
      turns.clear();
      size = 0;
      return items;
    },
    get size() {
      return size;
    },
  };
}
