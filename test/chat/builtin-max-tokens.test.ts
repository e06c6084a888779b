// The offline responder honours a reply's token limit as a model does: a chatbot with
// max_tokens 5, or an OpenAI call with max_tokens 3, got the whole greeting back (11 tokens),
// counted past the limit and, on the OpenAI endpoint, told it ended for `length` all the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { countTokens } from '../../src/llm/tokens.js';

let t: TestApp;
let owner: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
});

async function reply(chatbotId: string, content: string) {
  const conversation = await createConversation(t, owner, { chatbot_id: chatbotId });
  const response = await sendMessage(t, owner, conversation.id, { content });
  expect(response.statusCode, response.body).toBe(201);
  return json(response).reply as { content: string; usage: { completion_tokens: number } };
}

describe("the offline responder and a reply's token limit", () => {
  it("stops at the chatbot's max_tokens, counted as it is", async () => {
    const unlimited = await createChatbot(t, owner, { name: 'Whole greeting' });
    const whole = (await reply(unlimited.id, 'Hello')).content;
    expect(countTokens(whole)).toBeGreaterThan(5);

    const limited = await createChatbot(t, owner, { name: 'Short greeting', max_tokens: 5 });
    const cut = await reply(limited.id, 'Hello');
    expect(cut.content.length).toBeGreaterThan(0);
    expect(whole.startsWith(cut.content)).toBe(true);
    expect(countTokens(cut.content)).toBeLessThanOrEqual(5);
    expect(cut.usage.completion_tokens).toBeLessThanOrEqual(5);
  });

  it('stops at an OpenAI call’s max_tokens and says it ended for length, whole or streamed', async () => {
    const bot = await createChatbot(t, owner, { name: 'Key greeting' });
    const key = await createApiKey(t, owner, bot.id);
    const ask = (stream: boolean) =>
      t.request({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: { authorization: `Bearer ${key.key}` },
        payload: { model: bot.slug, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 3, stream },
      });
    const whole = json(await ask(false));
    const text = whole.choices[0].message.content as string;
    expect(countTokens(text)).toBeLessThanOrEqual(3);
    expect(whole.usage.completion_tokens).toBeLessThanOrEqual(3);
    expect(whole.choices[0].finish_reason).toBe('length');

    const streamed = (await ask(true)).body
      .split('\n')
      .filter((line) => line.startsWith('data: {'))
      .map((line) => JSON.parse(line.slice(6)));
    const deltas = streamed.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('');
    expect(deltas).toBe(text);
    expect(streamed.map((chunk) => chunk.choices[0]?.finish_reason).filter(Boolean)).toEqual(['length']);
  });
});
