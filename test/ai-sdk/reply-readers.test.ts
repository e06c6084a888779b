// The shared looks of one reply's readers (src/features/ai-sdk/reply-readers.ts), with looks
// answered by hand: how many are made, who hears each, and when they stop.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error.js';
import { createReplyReaders, MAX_READERS, type Seen } from '../../src/features/ai-sdk/reply-readers.js';

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(condition()).toBe(true);
};

/** A look that waits to be answered; `asked` counts the looks made. */
function looks() {
  const pending: Array<{ resolve(seen: Seen): void; reject(error: Error): void }> = [];
  const look = () => new Promise<Seen>((resolve, reject) => pending.push({ resolve, reject }));
  return { look, pending, asked: () => pending.length };
}

const reader = (seen: Seen[] = []) => {
  const gone = new AbortController();
  return { seen, gone, reader: { seen: (found: Seen) => void seen.push(found), gone: gone.signal } };
};

const stored = { id: 'r', role: 'assistant', content: 'hello there', status: 'complete' } as unknown as Seen['done'];

describe('the readers of one reply', () => {
  it('share each look, however many they are, and all end with the stored reply', async () => {
    const readers = createReplyReaders({ everyMs: 1 });
    const { look, pending, asked } = looks();
    const all = Array.from({ length: 10 }, () => reader());
    const followed = all.map((one) => readers.follow('a reply', look, one.reader));
    await until(() => asked() === 1);
    pending[0]!.resolve({ text: 'hello', done: null });
    await until(() => asked() === 2);
    pending[1]!.resolve({ text: 'hello there', done: stored });
    await Promise.all(followed);
    for (const one of all) expect(one.seen).toEqual([{ text: 'hello', done: null }, { text: 'hello there', done: stored }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(asked()).toBe(2);
  });

  it('looks apart for another key, and hands a failed look to every reader of its own', async () => {
    const readers = createReplyReaders({ everyMs: 1 });
    const first = looks();
    const second = looks();
    const failing = [readers.follow('one', first.look, reader().reader), readers.follow('one', first.look, reader().reader)];
    const other = readers.follow('two', second.look, reader().reader);
    await until(() => first.asked() === 1 && second.asked() === 1);
    const error = new Error('the database is away');
    first.pending[0]!.reject(error);
    for (const result of await Promise.allSettled(failing)) expect(result).toEqual({ status: 'rejected', reason: error });
    second.pending[0]!.resolve({ text: '', done: stored });
    await other;
    // The failed watch is gone: the next reader starts looking again.
    const again = readers.follow('one', first.look, reader().reader);
    await until(() => first.asked() === 2);
    first.pending[1]!.resolve({ text: '', done: stored });
    await again;
  });

  it('stops looking once its last reader leaves; a leaving reader is handed nothing more', async () => {
    const readers = createReplyReaders({ everyMs: 1 });
    const { look, pending, asked } = looks();
    const staying = reader();
    const leaving = reader();
    const stays = readers.follow('a reply', look, staying.reader);
    const leaves = readers.follow('a reply', look, leaving.reader);
    leaving.gone.abort();
    await leaves;
    await until(() => asked() === 1);
    pending[0]!.resolve({ text: 'hel', done: null });
    await until(() => asked() === 2);
    expect(leaving.seen).toEqual([]);
    expect(staying.seen).toEqual([{ text: 'hel', done: null }]);
    staying.gone.abort();
    await stays;
    pending[1]!.resolve({ text: 'hello', done: null });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(asked()).toBe(2);
    expect(staying.seen).toHaveLength(1);
  });

  it(`takes ${MAX_READERS} readers of one reply, then refuses with 429 until one leaves`, async () => {
    const readers = createReplyReaders({ everyMs: 1_000 });
    const { look } = looks();
    const all = Array.from({ length: MAX_READERS }, () => reader());
    for (const one of all) {
      readers.admit('a reply');
      void readers.follow('a reply', look, one.reader);
    }
    expect(() => readers.admit('a reply')).toThrow(AppError);
    await expect(readers.follow('a reply', look, reader().reader)).rejects.toMatchObject({ code: 'rate_limited' });
    expect(() => readers.admit('another reply')).not.toThrow();
    all[0]!.gone.abort();
    expect(() => readers.admit('a reply')).not.toThrow();
    for (const one of all) one.gone.abort();
  });
});
