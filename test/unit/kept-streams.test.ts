// Streams that no client resumes keep their text now and then, within one budget of writes a
// second for the whole instance: a handful are each kept every couple of seconds, thousands at
// once must not turn into thousands of database writes a second, and none is passed over for good.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createKeptStreams } from '../../src/features/chat/kept-streams.js';

type Write = { conversationId: string; text: string };

function recorder() {
  const writes: Write[] = [];
  return { writes, progress: { write: async (_owner: string, conversationId: string, _reply: string, text: string) => void writes.push({ conversationId, text }) } };
}

const reply = (n: number) => ({ ownerId: 'owner', conversationId: `c${n}`, replyId: `r${n}` });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the text of streams kept now and then', () => {
  it('writes each growing stream about every two seconds, with its text so far, and nothing unchanged twice', async () => {
    const { writes, progress } = recorder();
    const kept = createKeptStreams(progress, { everyMs: 2_000, perSecond: 50 });
    const texts: [{ text: string }, { text: string }] = [{ text: '' }, { text: '' }];
    kept.track(reply(0), texts[0]);
    kept.track(reply(1), texts[1]);
    texts[0].text = 'Hello';
    await vi.advanceTimersByTimeAsync(1_000);
    expect(writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(writes).toEqual([{ conversationId: 'c0', text: 'Hello' }]);
    texts[0].text = 'Hello there';
    texts[1].text = 'Hi';
    await vi.advanceTimersByTimeAsync(1_000);
    expect(writes.slice(1)).toEqual([{ conversationId: 'c1', text: 'Hi' }]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(writes.slice(2)).toEqual([{ conversationId: 'c0', text: 'Hello there' }]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(writes).toHaveLength(3);
  });

  it('keeps the writes of thousands of streams within its budget, and reaches every one of them in turn', async () => {
    const { writes, progress } = recorder();
    const kept = createKeptStreams(progress, { everyMs: 2_000, perSecond: 50 });
    const streams = Array.from({ length: 2_000 }, (_, n) => ({ n, text: '' }));
    for (const stream of streams) kept.track(reply(stream.n), stream);
    for (let second = 0; second < 60; second++) {
      for (const stream of streams) stream.text = `word ${second}`;
      await vi.advanceTimersByTimeAsync(1_000);
      expect(writes.length).toBeLessThanOrEqual(50 * (second + 1));
    }
    // 50 a second for 60 s (the first scan at 1 s finds none due yet): 2,000 streams, 40 s for all.
    expect(writes.length).toBeGreaterThanOrEqual(50 * 58);
    expect(new Set(writes.map((w) => w.conversationId)).size).toBe(2_000);
  });

  it('stops writing a stream once it ends, and leaves no timer behind when none runs', async () => {
    const { writes, progress } = recorder();
    const kept = createKeptStreams(progress, { everyMs: 2_000, perSecond: 50 });
    const stream = { text: 'partial' };
    const entry = kept.track(reply(0), stream);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(writes).toHaveLength(1);
    stream.text = 'partial and more';
    kept.end(entry);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(writes).toHaveLength(1);
  });

  it('skips a failed write and carries the text in the next one', async () => {
    const attempts: string[] = [];
    let failing = true;
    const kept = createKeptStreams(
      { write: async (_o, _c, _r, text) => (attempts.push(text), failing ? Promise.reject(new Error('connection reset')) : undefined) },
      { everyMs: 2_000, perSecond: 50 },
    );
    const stream = { text: 'one' };
    kept.track(reply(0), stream);
    await vi.advanceTimersByTimeAsync(2_000);
    failing = false;
    stream.text = 'one two';
    await vi.advanceTimersByTimeAsync(2_000);
    expect(attempts).toEqual(['one', 'one two']);
  });

  it('writes a very long reply less often, in proportion to its length, and a short one beside it as before', async () => {
    const written = new Map<string, number[]>();
    const kept = createKeptStreams(
      { write: async (_o, conversationId, _r, text) => void written.set(conversationId, [...(written.get(conversationId) ?? []), text.length]) },
      { everyMs: 2_000, perSecond: 50 },
    );
    // A model sending a megabyte of text at 20,000 characters a second, and an ordinary reply.
    const long = { text: 'x'.repeat(1_000_000) };
    const short = { text: '' };
    kept.track(reply(0), long);
    kept.track(reply(1), short);
    for (let second = 0; second < 120; second++) {
      long.text += 'y'.repeat(20_000);
      short.text += ' word';
      await vi.advanceTimersByTimeAsync(1_000);
    }
    const longChars = (written.get('c0') ?? []).reduce((a, b) => a + b, 0);
    // Every 2 s it would be 60 writes of 1-3.4 MB (130 million characters); paced by length, a few.
    expect(longChars).toBeGreaterThan(0);
    expect(longChars).toBeLessThanOrEqual(5_000_000);
    expect((written.get('c1') ?? []).length).toBeGreaterThanOrEqual(39);
  });
});

