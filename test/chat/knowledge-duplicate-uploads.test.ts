// The same document uploaded twice (an upload retried after a timeout, a sync that adds what it
// already added) is stored twice, as asked, and its chunks are found twice. The model is shown at
// most three passages: it was shown the same one two or three times, and the other documents that
// answer the question not at all. Each passage now reaches the model once.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { addKnowledge, askOnce } from '../helpers/knowledge.js';

let fake: FakeLlm;
let t: TestApp;
let owner: RegisteredUser;
beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
  owner = await registerUser(t);
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

/** The passages of the fenced knowledge the model was last shown. */
function passagesShown(): string[] {
  const prompt = fake.requests.at(-1)!.messages.map((m) => m.content).join('\n');
  const fence = /<knowledge [^>]*>\n([\s\S]*?)\n<\/knowledge>/.exec(prompt)?.[1] ?? '';
  return fence.split(/\n*\[\d+\](?: Document: [^\n]*)?\n/).filter((passage) => passage !== '');
}

const PAID = 'Refunds are paid to the card that was used.';
const TIME = 'A refund takes five working days to arrive.';
const DESK = 'Refund questions go to the service desk.';

describe('a document uploaded twice', () => {
  it('reaches the model once, leaving room for the other passages that answer', async () => {
    const bot = await createChatbot(t, owner, { name: 'Refund desk' });
    // The shortest ranks first: the one uploaded twice.
    await addKnowledge(t, owner, bot.id, 'Desk', DESK);
    await addKnowledge(t, owner, bot.id, 'Desk', DESK);
    await addKnowledge(t, owner, bot.id, 'Time', TIME);
    await addKnowledge(t, owner, bot.id, 'Paid', PAID);

    await askOnce(t, owner, bot.id, 'Refunds?');
    const shown = passagesShown();
    expect(shown).toHaveLength(3);
    expect(new Set(shown)).toEqual(new Set([DESK, TIME, PAID]));
  });

  it('three times, reaches the model once', async () => {
    const bot = await createChatbot(t, owner, { name: 'Refund desk, thrice' });
    for (let i = 0; i < 3; i++) await addKnowledge(t, owner, bot.id, 'Paid', PAID);

    await askOnce(t, owner, bot.id, 'Refunds?');
    expect(passagesShown()).toEqual([PAID]);
  });
});
