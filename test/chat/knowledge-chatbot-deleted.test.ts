// A knowledge document deleted while its chatbot is deleted, on PostgreSQL. The chatbot's
// deletion holds the chatbot and then, through ON DELETE CASCADE, its documents; the document's
// deletion took the document and then updated the chatbot's chunk count. Met in a load probe of
// every deletion at once: PostgreSQL failed one of the two (`deadlock detected`), and when its
// victim was the document's deletion, that was answered 500. The document's deletion now locks
// the chatbot first, waits for the chatbot's deletion, and answers 404 as for any chatbot gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { whileRowsHeld } from '../helpers/held-lock.js';
import { addKnowledge } from '../helpers/knowledge.js';

const url = process.env.TEST_DATABASE_URL;
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe.runIf(url)('a knowledge document deleted while its chatbot is being deleted', () => {
  it('answers 404 with no deadlock, and the chatbot and its documents are gone', async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user);
    const doc = await addKnowledge(t, user, bot.id, 'Hours', 'We open at nine and close at five on weekdays.');
    const answer = await whileRowsHeld(t, url!, {
      hold: ['SELECT 1 FROM chatbots WHERE id = $1 FOR UPDATE', [bot.id]],
      waiting: () => t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}/knowledge/${doc.id}`, headers: bearer(user.accessToken) }),
      then: ['DELETE FROM chatbots WHERE id = $1', [bot.id]],
    });
    expect(answer.statusCode, answer.body).toBe(404);
    expect(t.logs.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
    const left = await t.database.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM knowledge_documents WHERE chatbot_id = $1', [bot.id]);
    expect(left[0]?.n).toBe(0);
    const read = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(user.accessToken) });
    expect(read.statusCode).toBe(404);
  });
});
