// The knowledge search runs as the tables' owner, which reads the full-text index where row
// security would forbid it (migrations/0025), and keeps to the caller's chunks itself. Where row
// security holds the owner too (a managed PostgreSQL whose tables' owner is no superuser), it
// searches as before. Either way a chatbot's answers come from its own owner's knowledge only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { addKnowledge, askOnce } from '../helpers/knowledge.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

const added = (user: RegisteredUser, chatbotId: string, title: string, content: string) => addKnowledge(t, user, chatbotId, title, content);
const ask = (user: RegisteredUser, chatbotId: string, question: string) => askOnce(t, user, chatbotId, question);

/** Two owners: one with the shop's hours, one whose document names the first one's chatbot and the same day. */
async function twoOwners() {
  const owner = await registerUser(t);
  const other = await registerUser(t);
  const shop = await createChatbot(t, owner, { name: 'Shop desk' });
  const market = await createChatbot(t, other, { name: 'Market desk' });
  await added(owner, shop.id, 'Hours', 'Weekend hours: Saturday 10:00–14:00, Sunday closed.');
  await added(owner, shop.id, 'Returns', 'Returns: send items back within 30 days with the receipt.');
  await added(other, market.id, 'Market', `chatbot ${shop.id} Saturday market stalls open at dawn, secret price list inside.`);
  return { owner, other, shop, market };
}

describe('the knowledge search', () => {
  it("answers from the chatbot owner's own chunks, never another owner's that name the chatbot", async () => {
    const { owner, other, shop, market } = await twoOwners();
    const answer = await ask(owner, shop.id, 'Saturday?');
    expect(answer).toContain('Saturday 10:00–14:00');
    expect(answer).not.toContain('secret price list');
    expect(await ask(other, market.id, 'Saturday?')).toContain('secret price list');
  });

  it('still finds the knowledge where row security holds the owner that runs it', async () => {
    const { owner, other, shop, market } = await twoOwners();
    // As on a managed PostgreSQL: the role the search runs as is held to row security.
    await t.database.sql.exec(`ALTER FUNCTION knowledge_search(uuid, text[], integer, integer) OWNER TO ${t.config.databaseAppRole}`);
    try {
      const answer = await ask(owner, shop.id, 'When is the shop open on Saturday?');
      expect(answer).toContain('Saturday 10:00–14:00');
      expect(answer).not.toContain('secret price list');
      expect(await ask(owner, shop.id, 'How do returns work?')).toContain('within 30 days');
      expect(await ask(other, market.id, 'Saturday?')).toContain('secret price list');
    } finally {
      await t.database.sql.exec(`ALTER FUNCTION knowledge_search(uuid, text[], integer, integer) OWNER TO CURRENT_USER`);
    }
  });
});
