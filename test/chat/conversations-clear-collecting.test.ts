// Clearing a collecting conversation's history (DELETE /v1/conversations/{id}/messages, §6) left
// the builtin collector waiting for the answer to a question the user could no longer see: after
// clearing an onboarding chat that had just asked for the company size, the user's "Hello" was
// answered "Sorry, there is no number in that answer. What is the company size?". A cleared chat
// starts over from what the conversation still holds: the values already collected stay (they are
// the conversation's data, read at GET …/data and exported), and the bot greets and asks for the
// next missing field, whose answer then fills it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let user: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  user = await registerUser(t);
});
afterAll(async () => {
  await t.close();
});

async function say(conversationId: string, content: string): Promise<string> {
  const response = await sendMessage(t, user, conversationId, { content });
  expect(response.statusCode, response.body).toBe(201);
  return json(response).reply.content as string;
}

const dataOf = async (conversationId: string) =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}/data`, headers: bearer(user.accessToken) }));

describe('clearing a collecting conversation', () => {
  it('greets and asks the next missing field again, rather than answering a question no longer shown', async () => {
    const bot = await createChatbot(t, user, { name: 'Onboarding', template: 'company-onboarding', greeting: 'Welcome to Acme onboarding.' });
    const conversation = await createConversation(t, user, { chatbot_id: bot.id });
    await say(conversation.id, 'Hi');
    await say(conversation.id, 'Acme Corp');
    expect(await say(conversation.id, 'Software')).toMatch(/company size/i);

    const cleared = await t.request({ method: 'DELETE', url: `/v1/conversations/${conversation.id}/messages`, headers: bearer(user.accessToken) });
    expect(cleared.statusCode, cleared.body).toBe(204);

    const reply = await say(conversation.id, 'Hello');
    expect(reply).not.toMatch(/sorry/i);
    expect(reply.startsWith('Welcome to Acme onboarding.'), reply).toBe(true);
    expect(reply).toMatch(/company size/i);

    // What was collected before the clear is still the conversation's, and the next answer fills the field asked.
    await say(conversation.id, '12');
    const data = await dataOf(conversation.id);
    expect(data.data).toMatchObject({ company_name: 'Acme Corp', industry: 'Software', company_size: 12 });
    expect(data.missing).not.toContain('company_size');
  });

  it('does not take the first message after a clear as an answer to the question asked before it', async () => {
    const bot = await createChatbot(t, user, {
      name: 'Lead form',
      greeting: 'Hi there.',
      collect: { fields: [{ key: 'email', label: 'Email', type: 'email', required: true }, { key: 'city', label: 'City', type: 'string', required: true }] },
    });
    const conversation = await createConversation(t, user, { chatbot_id: bot.id });
    expect(await say(conversation.id, 'Hello')).toMatch(/email/i);
    await t.request({ method: 'DELETE', url: `/v1/conversations/${conversation.id}/messages`, headers: bearer(user.accessToken) });

    // Before, this greeting was taken as the answer to the email question asked before the clear.
    const reply = await say(conversation.id, 'Good morning');
    expect(reply.startsWith('Hi there.'), reply).toBe(true);
    expect((await dataOf(conversation.id)).data).toEqual({});
  });
});
