// A word can be common in one knowledge base and rare in another: a shop's handbook names the
// shop and its opening in every paragraph, and "Saturday" once. Ranked by every word of the
// question alike, the paragraphs that repeat "shop" and "open" outranked the one line that
// answers, and only the best three chunks reach the model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { addKnowledge, askOnce } from '../helpers/knowledge.js';

let t: TestApp;
let owner: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
});

const added = (chatbotId: string, title: string, content: string) => addKnowledge(t, owner, chatbotId, title, content);
const ask = (chatbotId: string, question: string) => askOnce(t, owner, chatbotId, question);

/** A shop's handbook: every paragraph names the shop and opening it, none says when it opens. */
function shopHandbook(): string {
  const topics = ['tills', 'deliveries', 'shelves', 'the stockroom', 'window displays', 'cleaning', 'keys', 'alarms', 'uniforms', 'breaks', 'cash', 'customers'];
  const paragraphs: string[] = [];
  for (const topic of topics) {
    for (let part = 1; part <= 4; part++) {
      paragraphs.push(
        `Shop rules on ${topic}, part ${part}: keep the shop tidy and open the ${topic} folder before the shop is open. ` +
          `The shop manager checks the ${topic} when the shop opens and again when the shop is about to close, so the shop stays open safely. ` +
          `Staff who open the shop leave notes for staff who close the shop, and the shop log records who was open and who closed.`,
      );
    }
  }
  return paragraphs.join('\n\n');
}

describe('knowledge weighed by how rare its words are', () => {
  it("answers from the line with the question's rare word, among paragraphs that repeat its common ones", async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop floor' });
    const book = await added(bot.id, 'Shop handbook', shopHandbook());
    expect(book.chunk_count).toBeGreaterThan(3);
    await added(bot.id, 'Weekend', 'Weekend hours: Saturday 10:00–14:00, Sunday closed.');

    expect(await ask(bot.id, 'Is the shop open on Saturday?')).toContain('Saturday 10:00–14:00');
  });

  it('still answers from the common words when the question has no rarer one', async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop rules' });
    await added(bot.id, 'Shop handbook', shopHandbook());
    expect(await ask(bot.id, 'Who opens the shop?')).toMatch(/Shop rules on \w+/);
  });

  it('a word that is in no chunk does not hide the ones that are', async () => {
    const bot = await createChatbot(t, owner, { name: 'Weekend desk' });
    await added(bot.id, 'Shop handbook', shopHandbook());
    await added(bot.id, 'Weekend', 'Weekend hours: Saturday 10:00–14:00, Sunday closed.');
    expect(await ask(bot.id, 'Is the shop open on Saturday or on Pentecost?')).toContain('Saturday 10:00–14:00');
  });
});
