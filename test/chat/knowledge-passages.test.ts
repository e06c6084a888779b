// The builtin responder answers with one passage of the best chunk: the one that shares the most
// words with the question. The search leaves a question's small words out when it has others
// (stop-words.ts); counted here, "when", "is", "the", "on" chose a passage about something else
// that happened to hold more of them than the one the question is about.
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

/** One short document, so one chunk: a section on the hours and one on refunds, full of small words. */
const FAQ = [
  '## Opening hours',
  'We open on Saturday from 9 to 5.',
  '## Refunds',
  'When is the refund sent? The refund is sent on the day the parcel is back, to the card that was used.',
].join('\n\n');

describe("the builtin responder's passage", () => {
  it("is the one with the question's own words, not the one with more of its small words", async () => {
    const bot = await createChatbot(t, owner, { name: 'Shop FAQ' });
    const doc = await addKnowledge(t, owner, bot.id, 'FAQ', FAQ);
    expect(doc.chunk_count).toBe(1);

    const answer = await askOnce(t, owner, bot.id, 'When is the shop open on Saturday?');
    expect(answer).toContain('Saturday from 9 to 5');
    expect(answer).not.toContain('refund');
    expect(await askOnce(t, owner, bot.id, 'When is the refund sent?')).toContain('The refund is sent');
  });

  it('still picks a passage by small words when the question has nothing else', async () => {
    const bot = await createChatbot(t, owner, { name: 'Small words' });
    await addKnowledge(t, owner, bot.id, 'FAQ', FAQ);
    expect(await askOnce(t, owner, bot.id, 'When is it?')).toContain('When is the refund sent?');
  });
});
