// Tenants share one chunking worker. Served first come, first served, one account that queued a
// few large documents (well within RATE_LIMIT_KNOWLEDGE_USER) made another tenant's one-line
// upload wait for every one of them; documents now take turns per owner, weighed in work, and one owner's backlog
// is bounded (429 with Retry-After).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors/app-error.js';
import { createChunker } from '../../src/features/knowledge/chunker.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('knowledge uploads of two tenants', () => {
  it('a one-line upload of another tenant is stored after the document in progress, not after all of a heavy uploader\'s', { timeout: 240_000 }, async () => {
    const heavy = await registerUser(t);
    const other = await registerUser(t);
    const heavyBot = await createChatbot(t, heavy, { name: 'Heavy' });
    const otherBot = await createChatbot(t, other, { name: 'Other' });
    // Seconds of chunking each, ASCII so it stays under BODY_LIMIT and MAX_DOCUMENT_CHARS.
    const slow = 'a...'.repeat(125_000);

    const finished: string[] = [];
    const upload = (who: typeof heavy, botId: string, title: string, content: string) =>
      t.request({ method: 'POST', url: `/v1/chatbots/${botId}/knowledge`, headers: bearer(who.accessToken), payload: { title, content } }).then((answer) => {
        finished.push(title);
        return answer;
      });

    const heavyUploads = Array.from({ length: 4 }, (_, i) => upload(heavy, heavyBot.id, `heavy-${i}`, slow));
    // Once the first is stored, the next is being chunked and two wait; only then does the other tenant upload.
    await Promise.race(heavyUploads);
    const small = await upload(other, otherBot.id, 'small', 'Opening hours: 9 to 5.');
    const answers = await Promise.all(heavyUploads);

    expect(small.statusCode, small.body).toBe(201);
    expect(json(small).chunk_count).toBe(1);
    expect(answers.map((answer) => answer.statusCode)).toEqual([201, 201, 201, 201]);
    // Served first come, first served it was stored last, after all four. Now at most the document
    // the test waited for and the one in progress are stored before it (on PostgreSQL the one in
    // progress may still be writing its chunks when the one-line upload is stored); the two that
    // were waiting come after it.
    expect(finished.indexOf('small'), `order: ${finished.join(', ')}`).toBeLessThanOrEqual(2);
  });
});

describe('the chunker', () => {
  it('takes owners in turns, and each owner\'s documents in the order they came', async () => {
    const chunker = createChunker();
    try {
      const done: string[] = [];
      const prepare = (owner: string, title: string) => chunker.prepare(title, `About ${title}.`, 200, owner).then(() => done.push(title));
      await Promise.all([prepare('a', 'a1'), prepare('a', 'a2'), prepare('a', 'a3'), prepare('b', 'b1'), prepare('b', 'b2'), prepare('c', 'c1')]);
      // a1 was in progress when the others came; b and c were waiting before a's next turn.
      expect(done).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
    } finally {
      await chunker.close();
    }
  });

  it('takes a newcomer\'s small document after the one in progress, not after a large one of every owner waiting', { timeout: 120_000 }, async () => {
    const chunker = createChunker();
    try {
      const done: string[] = [];
      const prepare = (owner: string, title: string, content: string) => chunker.prepare(title, content, 200, owner).then(() => done.push(title));
      // Ten owners with two large documents each (taken in turns, one job of each owner at a
      // time, the small one waited for nine large ones: 21.6 s with documents of 500,000 characters).
      const large = (i: number) => `Section ${i}. ` + 'Our returns policy covers every order placed online. '.repeat(400);
      const owners = Array.from({ length: 10 }, (_, i) => `owner-${i}`);
      const heavy = owners.flatMap((owner, i) => [prepare(owner, `${owner}-a`, large(i)), prepare(owner, `${owner}-b`, large(i + 10))]);
      const small = prepare('newcomer', 'small', 'Opening hours: 9 to 5.');
      await Promise.all([...heavy, small]);
      // owner-0-a was with the worker when the small one came; nothing else goes before it.
      expect(done.indexOf('small'), `order: ${done.join(', ')}`).toBe(1);
      // The large ones still go in turns: every owner's first before any owner's second.
      const seconds = done.filter((title) => title.endsWith('-b')).map((title) => done.indexOf(title));
      const firsts = done.filter((title) => title.endsWith('-a')).map((title) => done.indexOf(title));
      expect(Math.max(...firsts)).toBeLessThan(Math.min(...seconds));
    } finally {
      await chunker.close();
    }
  });

  it('refuses an owner\'s document past its share of waiting text with 429 rate_limited, and takes another owner\'s', async () => {
    const chunker = createChunker(5_000, 10);
    try {
      const first = chunker.prepare('one', 'Keep the receipt.', 200, 'a');
      // Waiting: the first is with the worker. However long, one document of an owner may always wait.
      const second = chunker.prepare('two', 'Returns are free within thirty days.', 200, 'a');
      const refused = await chunker.prepare('three', 'Short.', 200, 'a').then(
        () => null,
        (error: unknown) => error,
      );
      expect(isAppError(refused) && refused.code).toBe('rate_limited');
      expect(isAppError(refused) && refused.rateLimit).toMatchObject({ policy: 'knowledge_queue', remaining: 0, resetSeconds: 5 });
      const others = chunker.prepare('other', 'Opening hours: 9 to 5.', 200, 'b');
      expect((await Promise.all([first, second, others])).every((chunks) => chunks.length > 0)).toBe(true);
      // Nothing of the owner waits any more: taken again.
      expect((await chunker.prepare('three', 'Short.', 200, 'a')).length).toBeGreaterThan(0);
    } finally {
      await chunker.close();
    }
  });
});
