// The chunking worker is a second V8 heap: it ends once uploads stop, and the next upload starts another.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createChunker } from '../../src/features/knowledge/chunker.js';

const threads = () => readdirSync('/proc/self/task').length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (check()) return true;
  return check();
}

describe.runIf(process.platform === 'linux')('the chunking worker', () => {
  it('ends after a while without uploads, and the next upload still gets its chunks', async () => {
    const chunker = createChunker(200);
    try {
      const before = threads();
      const first = await chunker.prepare('Returns', 'You can return any product within 30 days.\n\nKeep the receipt.', 200);
      expect(first.length).toBeGreaterThan(0);
      const working = threads();
      expect(working).toBeGreaterThan(before);
      expect(await until(() => threads() < working)).toBe(true);
      const second = await chunker.prepare('Returns', 'You can return any product within 30 days.\n\nKeep the receipt.', 200);
      expect(second).toEqual(first);
    } finally {
      await chunker.close();
    }
  });

  it('an upload that arrives as the idle worker is being ended gets its chunks from the next worker', async () => {
    const idleMs = 100;
    const chunker = createChunker(idleMs);
    try {
      const first = await chunker.prepare('Returns', 'Keep the receipt.', 200);
      // Same delay, set after the chunker's idle timer: it runs just after that timer ended the
      // worker, before the ended worker's exit reaches this thread.
      const second = await new Promise<unknown>((resolve, reject) => {
        setTimeout(() => chunker.prepare('Returns', 'Keep the receipt.', 200).then(resolve, reject), idleMs);
      });
      expect(second).toEqual(first);
    } finally {
      await chunker.close();
    }
  });
});
