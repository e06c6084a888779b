// One owner's documents waiting for the chunking worker are bounded, so another tenant's upload
// waits behind little of theirs. The bound counted characters as sent, but the worker's time
// follows what it reads: the tokenizer reads UTF-8 bytes, the search terms the text after NFKC,
// where "ﷺ" is 18 characters (500,000 of them took 14 s to chunk, one repeated letter 1.2 s).
// Characters that expand now count for what they expand to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors/app-error.js';
import { createChunker } from '../../src/features/knowledge/chunker.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  // 500,000 characters of Chinese (1.5 MB of UTF-8) fit the upload's own body limit whatever BODY_LIMIT says.
  t = await createTestApp({ RATE_LIMIT_KNOWLEDGE_USER: '100/1m' });
});
afterAll(async () => {
  await t.close();
});

const upload = (who: RegisteredUser, chatbotId: string, title: string, content: string) =>
  t.request({ method: 'POST', url: `/v1/chatbots/${chatbotId}/knowledge`, headers: bearer(who.accessToken), payload: { title, content } });

describe('the waiting documents of one owner', () => {
  // 40,000 characters as sent, 1,320,000 bytes of UTF-8 after NFKC: three of them were well within the 2,000,000 that may wait.
  const expanding = 'ﷺ'.repeat(40_000);

  it('are refused past the bound when their text expands, with 429 and Retry-After; another owner\'s are taken', { timeout: 240_000 }, async () => {
    const owner = await registerUser(t);
    const other = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Expanding' });
    const otherBot = await createChatbot(t, other, { name: 'Other' });
    // Whichever comes first is chunked; the second waits; the third would make the waiting work 2,640,000.
    const answers = await Promise.all(['one', 'two', 'three'].map((title) => upload(owner, bot.id, title, expanding)));
    const codes = answers.map((answer) => answer.statusCode);
    expect([...codes].sort(), answers.map((answer) => answer.body.slice(0, 200)).join('\n')).toEqual([201, 201, 429]);
    const refused = answers[codes.indexOf(429)]!;
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(refused)).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.headers['ratelimit-policy']).toMatch(/^"knowledge_queue";/);
    const small = await upload(other, otherBot.id, 'small', 'Opening hours: 9 to 5.');
    expect(small.statusCode, small.body).toBe(201);
  });

  it('is one document at most that expands past the whole bound: 422 on content, nothing stored', { timeout: 240_000 }, async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Too much' });
    // 70,000 characters as sent (the schema takes 500,000), 2,310,000 bytes after NFKC: 5 s or more of the worker.
    const refused = await upload(owner, bot.id, 'too much', 'ﷺ'.repeat(70_000));
    expect(refused.statusCode, refused.body.slice(0, 200)).toBe(422);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(refused)).toMatchObject({ code: 'validation_failed', errors: [{ path: 'body.content' }] });
    const list = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/knowledge`, headers: bearer(owner.accessToken) });
    expect(json(list).data).toEqual([]);
    // Text of any script as long as the schema allows is taken: 500,000 characters of Chinese weigh 1,500,000.
    const chinese = await upload(owner, bot.id, 'chinese', '我們生產電路板員工人數是五十人'.repeat(33_334).slice(0, 500_000));
    expect(chinese.statusCode, chinese.body.slice(0, 200)).toBe(201);
  });

  it('of ordinary text are taken as before', { timeout: 240_000 }, async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Ordinary' });
    const prose = 'The shop opens at nine and closes at five; returns are free within thirty days. '.repeat(1_500);
    const answers = await Promise.all(['one', 'two', 'three', 'four'].map((title) => upload(owner, bot.id, title, prose)));
    expect(answers.map((answer) => answer.statusCode)).toEqual([201, 201, 201, 201]);
  });
});

describe('the chunker\'s bound on one owner\'s waiting work', () => {
  it('counts a document\'s text after NFKC, and in UTF-8', async () => {
    const chunker = createChunker(5_000, 100);
    try {
      const first = chunker.prepare('in progress', 'Keep the receipt.', 200, 'a');
      // 4 characters as sent, 72 after NFKC (132 bytes of UTF-8): waiting, as one document always may.
      const second = chunker.prepare('expands', 'ﷺﷺﷺﷺ', 200, 'a');
      const refused = await chunker.prepare('short', 'Short.', 200, 'a').then(
        () => null,
        (error: unknown) => error,
      );
      expect(isAppError(refused) && refused.rateLimit).toMatchObject({ policy: 'knowledge_queue', limit: 100, remaining: 0 });
      expect((await Promise.all([first, second])).every((chunks) => chunks.length > 0)).toBe(true);

      const third = chunker.prepare('in progress', 'Keep the receipt.', 200, 'b');
      // 40 characters of Chinese are 120 bytes of UTF-8, as many as the tokenizer reads.
      const fourth = chunker.prepare('chinese', '我們生產電路板'.repeat(6).slice(0, 40), 200, 'b');
      const refusedToo = await chunker.prepare('short', 'Short.', 200, 'b').then(
        () => null,
        (error: unknown) => error,
      );
      expect(isAppError(refusedToo) && refusedToo.code).toBe('rate_limited');
      await Promise.all([third, fourth]);

      const fifth = chunker.prepare('in progress', 'Keep the receipt.', 200, 'c');
      // Plain text counts as before: 30 and 60 characters fit in 100.
      const sixth = chunker.prepare('plain', 'Returns are free within 30 d.', 200, 'c');
      const seventh = chunker.prepare('plain too', 'Opening hours: nine to five, Monday to Friday, and Sat too.', 200, 'c');
      expect((await Promise.all([fifth, sixth, seventh])).every((chunks) => chunks.length > 0)).toBe(true);
    } finally {
      await chunker.close();
    }
  });
});
