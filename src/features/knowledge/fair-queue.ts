// Uploads of every tenant share one chunking worker. Served first come, first served, one account
// that queued a few large documents made every other tenant's upload wait for all of them. Taken
// in turns, one job of each owner at a time, another tenant's one-line upload still waited for a
// large job of every owner waiting before it: ten accounts with four documents of 500,000
// characters each kept it 21.6 s. Now each owner's share is counted in work, as in weighted fair
// queueing: a job's tag is where it ends on its owner's own clock (the owner's previous tag, or the
// queue's clock when the owner has been idle, plus the job's cost), and the smallest tag goes next.
// A newcomer's small job ends soon on the queue's clock, so it waits for the job in progress and
// not for a round of large ones; an owner with many jobs still gets its share after the others.

export interface FairQueue<T> {
  /** Queues `item` of `owner`, weighing `cost` (its work; any positive unit, the same for every item). */
  push(owner: string, item: T, cost: number): void;
  /** The next item: the one whose work ends first, each owner's items in the order they came. */
  next(): { owner: string; item: T } | undefined;
  /** Every waiting item, removed (for shutting down). */
  drain(): T[];
  readonly size: number;
}

interface Entry<T> {
  item: T;
  start: number;
  finish: number;
  seq: number;
}

export function createFairQueue<T>(): FairQueue<T> {
  const waiting = new Map<string, Entry<T>[]>();
  // Where each owner's queued work ends on the queue's clock; an owner whose work ended before the
  // clock is forgotten (it would start at the clock anyway).
  const ends = new Map<string, number>();
  // The start tag of the item last taken: work queued by an idle owner starts from here.
  let clock = 0;
  let seq = 0;
  let size = 0;

  function forgetIdle() {
    for (const [owner, end] of ends) if (end <= clock && !waiting.has(owner)) ends.delete(owner);
  }

  return {
    push(owner, item, cost) {
      const start = Math.max(clock, ends.get(owner) ?? 0);
      const finish = start + Math.max(cost, Number.EPSILON);
      ends.set(owner, finish);
      const entry = { item, start, finish, seq: seq++ };
      const items = waiting.get(owner);
      if (items) items.push(entry);
      else waiting.set(owner, [entry]);
      size++;
    },
    next() {
      let best: { owner: string; entry: Entry<T> } | undefined;
      for (const [owner, items] of waiting) {
        const entry = items[0]!;
        if (!best || entry.finish < best.entry.finish || (entry.finish === best.entry.finish && entry.seq < best.entry.seq)) best = { owner, entry };
      }
      if (!best) return undefined;
      const items = waiting.get(best.owner)!;
      items.shift();
      if (items.length === 0) waiting.delete(best.owner);
      clock = Math.max(clock, best.entry.start);
      size--;
      forgetIdle();
      return { owner: best.owner, item: best.entry.item };
    },
    drain() {
      const items = [...waiting.values()].flat().map((entry) => entry.item);
      waiting.clear();
      ends.clear();
      size = 0;
      return items;
    },
    get size() {
      return size;
    },
  };
}
