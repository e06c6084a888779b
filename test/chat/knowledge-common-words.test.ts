// A question is mostly small words ("when", "is", "the", "on") around the one or two that say
// what it is about. A knowledge base of ordinary prose holds the small words in every chunk, many
// times over: ranked by all of the question's words, any long chunk of prose outranked the short
// one that answers, and only the best three chunks reach the model.
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

/** A handbook of plain prose: many chunks, none about the shop's hours or its returns. */
function handbook(): string {
  const topics = ['arrival', 'parking', 'meetings', 'holidays', 'equipment', 'travel', 'training', 'security', 'expenses', 'leaving', 'the canteen', 'the garden'];
  const paragraphs: string[] = [];
  for (const topic of topics) {
    for (let part = 1; part <= 4; part++) {
      paragraphs.push(
        `On ${topic}, part ${part}: when it is time, the team is there on the day, and what is asked of the team is on the list. ` +
          `It is the custom that when the manager is away, the deputy is in charge, and the notes are on the board when the week is over. ` +
          `If the plan is not clear, the question is put to the team when it meets, and the answer is written on the sheet that is kept by the door. ` +
          `The rule is the same on every floor, and when there is doubt, the older rule is the one that is used until the new one is on record.`,
      );
    }
  }
  return paragraphs.join('\n\n');
}

describe('knowledge found by what a question is about', () => {
  it('answers from the short chunk that names it, among many chunks of prose', async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop desk' });
    const book = await added(bot.id, 'Staff handbook', handbook());
    expect(book.chunk_count).toBeGreaterThan(3);
    await added(bot.id, 'Opening hours', 'Shop opening hours: Monday to Friday 9:00–17:00, Saturday 10:00–14:00, closed Sunday.');
    await added(bot.id, 'Returns', 'Returns: send items back within 30 days with the receipt for a full refund.');

    expect(await ask(bot.id, 'When is the shop open on Saturday?')).toContain('Saturday 10:00–14:00');
    expect(await ask(bot.id, 'What is the time limit on returns?')).toContain('within 30 days');
  });

  it('still finds prose by its small words when a question has nothing else', async () => {
    const bot = await createChatbot(t, owner, { name: 'Handbook desk' });
    await added(bot.id, 'Staff handbook', handbook());
    expect(await ask(bot.id, 'What is it when the team is there?')).toContain('the team is there on the day');
  });
});
