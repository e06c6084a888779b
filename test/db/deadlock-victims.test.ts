// PostgreSQL ends a deadlock by failing the transaction that has waited longest (after
// deadlock_timeout), and asks applications to run it again. Lock orders are kept the same where
// we can see them (test/chat/conversation-delete-deadlocks.test.ts and the others), but a
// deletion's cascades and a foreign key's checks still meet in both orders now and then (a
// chatbot deleted while its turns end: test/chat/chatbot-deleted-under-load.test.ts). Here a
// second connection takes the rows the app's statement needs in the other order, every time, so
// that the app's side is the victim: it answered 500 before it was run again (db/deadlocks.ts),
// and `/metrics` counts each time it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, createTestDatabase, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { whileRowsHeld } from '../helpers/held-lock.js';
import { addKnowledge } from '../helpers/knowledge.js';

const url = process.env.TEST_DATABASE_URL;
let fake: FakeLlm;
let t: TestApp;
let drop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  fake = await startFakeLlm();
  // The app's side is the victim only if the cycle is there when its wait reaches
  // deadlock_timeout; with the default 1 s, a loaded machine's second connection sometimes asked
  // for its rows later than that (2 runs in 8 with a CPU hog). The second connection waits 20 s.
  const database = url ? await createTestDatabase({ settings: { deadlock_timeout: '4s' } }) : undefined;
  drop = database?.drop;
  t = await createTestApp(fakeLlmEnv(fake.url), { database: database?.database });
});
afterAll(async () => {
  await t?.close();
  await drop?.();
  await fake?.close();
});

const faults = () => t.logs.filter((line) => /"level":(50|60)/.test(line));
const count = async (sql: string, params: unknown[]) => Number((await t.database.sql.query<{ n: number }>(sql, params))[0]?.n);
/** What `/metrics` tells an operator of deadlocks run again. */
const retried = async () => {
  const text = (await t.request({ method: 'GET', url: '/metrics' })).body;
  return Number(/^parley_database_deadlocks_total\{outcome="retried"\} (\d+)$/m.exec(text)?.[1]);
};

describe.runIf(url)("the app's side of a deadlock, run again", () => {
  it('a turn whose reply is stored: 201 and the reply kept', async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    // Every shard of today's usage row exists, so the store's usage write is an update of a row
    // held here, whichever shard it picks.
    await t.database.sql.query(
      `INSERT INTO usage_daily (chatbot_id, user_id, day, shard)
       SELECT c.chatbot_id, c.user_id, d.day, s.shard
         FROM conversations c,
              (VALUES ((now() AT TIME ZONE 'UTC')::date), ((now() AT TIME ZONE 'UTC')::date + 1)) AS d (day),
              generate_series(0, 7) AS s (shard)
        WHERE c.id = $1
       ON CONFLICT DO NOTHING`,
      [conversation.id],
    );
    // The store locks the conversation and then the chatbot's usage rows; this holds the usage
    // rows, and then asks for the conversation.
    const before = await retried();
    const answer = await whileRowsHeld(t, url!, {
      hold: ['SELECT 1 FROM usage_daily WHERE chatbot_id = (SELECT chatbot_id FROM conversations WHERE id = $1) FOR UPDATE', [conversation.id]],
      waiting: () => sendMessage(t, user, conversation.id, { content: 'And again' }),
      then: ['UPDATE conversations SET title = title WHERE id = $1', [conversation.id]],
    });
    expect(answer.statusCode, answer.body).toBe(201);
    const reply = answer.json().reply as { id: string; content: string };
    const stored = await t.database.sql.query<{ content: string; status: string }>('SELECT content, status FROM messages WHERE id = $1', [reply.id]);
    expect(stored).toEqual([{ content: reply.content, status: 'complete' }]);
    expect(faults()).toEqual([]);
    expect(await retried()).toBe(before + 1);
  });

  it("a conversation's deletion: 204 and the conversation gone", async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    expect((await sendMessage(t, user, conversation.id, { content: 'Hello there' })).statusCode).toBe(201);
    const before = await retried();
    const answer = await whileRowsHeld(t, url!, {
      hold: ['SELECT 1 FROM messages WHERE conversation_id = $1 FOR UPDATE', [conversation.id]],
      waiting: () => t.request({ method: 'DELETE', url: `/v1/conversations/${conversation.id}`, headers: bearer(user.accessToken) }),
      then: ['UPDATE conversations SET title = title WHERE id = $1', [conversation.id]],
    });
    expect(answer.statusCode, answer.body).toBe(204);
    expect(await count('SELECT count(*)::int AS n FROM conversations WHERE id = $1', [conversation.id])).toBe(0);
    expect(faults()).toEqual([]);
    expect(await retried()).toBe(before + 1);
  });

  it("a chatbot's deletion: 204 and the chatbot gone with its conversations and documents", async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user);
    await createConversation(t, user, { chatbot_id: bot.id });
    const doc = await addKnowledge(t, user, bot.id, 'Hours', 'We open at nine and close at five on weekdays.');
    // The deletion takes the chatbot's conversations, the chatbot, and then by its cascades the
    // documents; this holds a document, and then asks for the chatbot.
    const before = await retried();
    const answer = await whileRowsHeld(t, url!, {
      hold: ['SELECT 1 FROM knowledge_documents WHERE id = $1 FOR UPDATE', [doc.id]],
      waiting: () => t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}`, headers: bearer(user.accessToken) }),
      then: ['UPDATE chatbots SET name = name WHERE id = $1', [bot.id]],
    });
    expect(answer.statusCode, answer.body).toBe(204);
    expect(await count('SELECT count(*)::int AS n FROM conversations WHERE chatbot_id = $1', [bot.id])).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM knowledge_documents WHERE chatbot_id = $1', [bot.id])).toBe(0);
    expect(faults()).toEqual([]);
    expect(await retried()).toBe(before + 1);
  });

  it("a knowledge document's deletion: 204 and the document gone", async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user);
    const doc = await addKnowledge(t, user, bot.id, 'Hours', 'We open at nine and close at five on weekdays.');
    const before = await retried();
    const answer = await whileRowsHeld(t, url!, {
      hold: ['SELECT 1 FROM knowledge_documents WHERE id = $1 FOR UPDATE', [doc.id]],
      waiting: () => t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}/knowledge/${doc.id}`, headers: bearer(user.accessToken) }),
      then: ['UPDATE chatbots SET name = name WHERE id = $1', [bot.id]],
    });
    expect(answer.statusCode, answer.body).toBe(204);
    expect(await count('SELECT count(*)::int AS n FROM knowledge_documents WHERE id = $1', [doc.id])).toBe(0);
    expect(faults()).toEqual([]);
    expect(await retried()).toBe(before + 1);
  });
});
