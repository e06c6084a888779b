// A resumable reply's text (the AI SDK channel) is written every 150 ms for clients that resume
// it elsewhere. Written whole each time, a very long reply (the model's answer may reach millions
// of characters) would be megabytes of database writes a second for one stream.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keepProgress } from '../../src/features/chat/progress.repo.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

async function writtenOver(seconds: number, start: string, grow: string) {
  const lengths: number[] = [];
  let text = start;
  const keeper = keepProgress({ write: async (_o, _c, _r, now) => void lengths.push(now.length) }, { ownerId: 'o', conversationId: 'c', replyId: 'r' }, () => text);
  for (let tick = 0; tick < seconds * 20; tick++) {
    text += grow;
    keeper.changed();
    await vi.advanceTimersByTimeAsync(50);
  }
  keeper.stop();
  return lengths;
}

describe('the pace of a resumable reply\'s writes', () => {
  it('writes an ordinary reply about every 150 ms', async () => {
    const lengths = await writtenOver(3, '', ' word');
    expect(lengths.length).toBeGreaterThanOrEqual(15);
    expect(lengths.length).toBeLessThanOrEqual(21);
  });

  it('writes a reply of a million characters less often, in proportion to its length', async () => {
    // Every 150 ms it would be about 66 writes of 1 MB over 10 s (66 million characters).
    const lengths = await writtenOver(10, 'x'.repeat(1_000_000), 'y'.repeat(1_000));
    expect(lengths.length).toBeGreaterThan(0);
    expect(lengths.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(6_000_000);
  });
});
