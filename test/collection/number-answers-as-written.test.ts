// A number field's answer is stored as the number the user wrote (§9: validated by type; §12:
// numbers are stored as JSON numbers). Up to 2^53 − 1 every integer has its exact JSON number,
// so none may come back changed, and a minus sign typed as U+2212 (what word processors and
// many keyboards write) is a minus: a balance of −5 stored as 5 is the opposite of what was said.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let owner: RegisteredUser;
let chatbotId: string;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '10000/1m' });
  owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, {
    name: 'Ledger',
    greeting: 'Hello! One question.',
    collect: { fields: [{ key: 'amount', label: 'Amount', type: 'number', required: true }] },
  });
  chatbotId = chatbot.id as string;
});
afterAll(async () => {
  await t?.close();
});

/** What the builtin responder stores for one answer, and what it says. */
async function answer(content: string): Promise<{ stored: unknown; reply: string }> {
  const id = (await createConversation(t, owner, { chatbot_id: chatbotId })).id as string;
  const opened = await sendMessage(t, owner, id, { content: 'hello there' });
  expect(opened.statusCode, opened.body).toBe(201);
  const sent = await sendMessage(t, owner, id, { content });
  expect(sent.statusCode, sent.body).toBe(201);
  const read = await t.request({ method: 'GET', url: `/v1/conversations/${id}/data`, headers: bearer(owner.accessToken) });
  return { stored: json(read).data.amount, reply: json(sent).reply.content as string };
}

describe('a number answer is stored as written', () => {
  it.each([
    ['1234567890123456', 1234567890123456],
    ['4111111111111111', 4111111111111111],
    ['9,007,199,254,740,991', 9007199254740991],
    ['123456789012.3456', 123456789012.3456],
    ['1.15k', 1150],
    ['2.3 million', 2300000],
    ['19.99', 19.99],
    ['\u22125', -5],
    ['\u221212.5', -12.5],
    ['-5', -5],
  ])('%j is stored as %s', async (content, expected) => {
    const { stored } = await answer(content);
    expect(stored).toBe(expected);
  });

  it('a number past 2^53 − 1 is refused as too large, not stored rounded', async () => {
    const { stored, reply } = await answer('9007199254740993');
    expect(stored).toBeUndefined();
    expect(reply).toContain('that number is too large');
  });
});
