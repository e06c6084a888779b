// A chatbot deleted while its conversations' replies are being stored, on PostgreSQL. The
// deletion's cascades lock the chatbot, its conversations and then its usage rows; a reply's
// store locked its usage row before its conversation, and a new usage row checks its chatbot
// last. Found by this test as written: in 30 rounds about 10 turns or deletions were answered
// 500 (`deadlock detected`), and each deadlock held both sides for a second first. The store now
// locks its conversation before its usage, the deletion locks the conversations before the
// chatbot, and PostgreSQL's victim of any deadlock left is run again (db/deadlocks.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';

const url = process.env.TEST_DATABASE_URL;
const ROUNDS = 20;
const CONVERSATIONS = 20;
let fake: FakeLlm;
let t: TestApp;
beforeAll(async () => {
  fake = await startFakeLlm({ chunkDelayMs: 1 });
  t = await createTestApp(fakeLlmEnv(fake.url, { RATE_LIMIT_CONVERSATIONS_USER: '100000/1m', WEBHOOK_ALLOW_PRIVATE: 'true' }));
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const collecting = { collect: { fields: [{ key: 'email', label: 'email address', type: 'email', required: true }] }, webhook_url: 'http://127.0.0.1:9/hook' };

describe.runIf(url)('a chatbot deleted while replies in its conversations are stored', () => {
  it('answers each turn as stored or as gone, deletes the chatbot, and logs no fault', { timeout: 120_000 }, async () => {
    const seen: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const user = await registerUser(t);
      const bot = await createChatbot(t, user, round % 2 ? collecting : {});
      const conversations = await Promise.all(Array.from({ length: CONVERSATIONS }, () => createConversation(t, user, { chatbot_id: bot.id })));
      for (const answer of await Promise.all(conversations.map((c) => sendMessage(t, user, c.id, { content: 'Hello' })))) expect(answer.statusCode).toBe(201);
      // Regenerations replace a reply; the others add one (and, on a collecting chatbot, its data).
      const turns = conversations.map((c, i) =>
        i % 3 === 0
          ? t.request({ method: 'POST', url: `/v1/conversations/${c.id}/regenerate`, headers: bearer(user.accessToken), payload: {} })
          : sendMessage(t, user, c.id, { content: 'My email is a@b.co' }),
      );
      await sleep(round % 10);
      const deletion = t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}`, headers: bearer(user.accessToken) });
      const conversationDeletions = conversations.slice(0, 5).map((c) => t.request({ method: 'DELETE', url: `/v1/conversations/${c.id}`, headers: bearer(user.accessToken) }));
      for (const answer of await Promise.all(turns)) {
        seen.push(`turn ${answer.statusCode}`);
        expect([201, 404], answer.body).toContain(answer.statusCode);
      }
      expect((await deletion).statusCode).toBe(204);
      for (const answer of await Promise.all(conversationDeletions)) expect([204, 404], answer.body).toContain(answer.statusCode);
      const left = await t.database.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM conversations WHERE chatbot_id = $1', [bot.id]);
      expect(left[0]?.n).toBe(0);
    }
    // Both outcomes happened: the deletion met turns on their way.
    expect(seen).toContain('turn 201');
    expect(seen).toContain('turn 404');
    expect(t.logs.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
  });
});
