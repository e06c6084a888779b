// An enum's answer was matched against its options with case, spaces and punctuation set aside,
// the first option that matched winning: "C++", "C#" and "C" all read "c", so a user answering
// "C#" was stored as "C++". An option of punctuation alone ("???") read as named in every answer,
// so "I like turtles" was stored as it. And an option whose label is another option's value
// ({value: "a", label: "Basic"} beside "basic") left that other option out of reach, yet the
// chatbot was saved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '10000/1m' });
});
afterAll(async () => {
  await t?.close();
});

/** What the builtin responder stores for one answer to an enum field with these options. */
async function answered(options: unknown[], answer: string) {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { collect: { fields: [{ key: 'choice', label: 'choice', type: 'enum', required: true, options }] } });
  const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
  for (const content of ['hello', answer]) {
    const response = await sendMessage(t, owner, conversation.id, { content });
    expect(response.statusCode, response.body).toBe(201);
  }
  const data = await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/data`, headers: bearer(owner.accessToken) });
  return json(data).data as Record<string, unknown>;
}

describe('an answer to an enum field', () => {
  it('is the option written exactly so, though others read the same without their punctuation', async () => {
    expect(await answered(['C++', 'C#', 'C'], 'C#')).toEqual({ choice: 'C#' });
    expect(await answered(['C++', 'C#', 'C'], 'c')).toEqual({ choice: 'C' });
    expect(await answered(['C++', 'C#', 'C'], 'C++')).toEqual({ choice: 'C++' });
  });

  it('names no option made of punctuation alone unless it is that option', async () => {
    expect(await answered(['Yes', 'No', '???'], 'I like turtles')).toEqual({});
    expect(await answered(['Yes', 'No', '???'], '???')).toEqual({ choice: '???' });
  });
});

describe('options that cannot be told apart', () => {
  it('are refused when the chatbot is saved (422 naming the options), and nothing is stored', async () => {
    const owner = await registerUser(t);
    const before = await t.count('chatbots');
    for (const options of [[{ value: 'a', label: 'Basic' }, 'basic'], [{ value: 'pro', label: 'Pro plan' }, { value: 'team', label: 'PRO PLAN' }]]) {
      const response = await t.request({
        method: 'POST',
        url: '/v1/chatbots',
        headers: bearer(owner.accessToken),
        payload: { name: 'Plans', collect: { fields: [{ key: 'plan', label: 'plan', type: 'enum', required: true, options }] } },
      });
      expect(response.statusCode, response.body).toBe(422);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(json(response).code).toBe('validation_failed');
      expect(JSON.stringify(json(response).errors)).toContain('collect.fields.0.options');
    }
    expect(await t.count('chatbots')).toBe(before);
  });
});
