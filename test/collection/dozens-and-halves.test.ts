// An order or a lead told in words was stored as another number. "Two dozen" was read as two
// plus twelve (14, not 24), "2 dozen" as 2, "half a dozen" as 12 and "half a million" as a
// million: "dozen" was a number to add rather than one to multiply by, and "half" was not read. The builtin
// responder thanked the user for the wrong quantity; a model that read "two dozen" right (24)
// had its value refused as not stated, and one that gave 14 had it stored.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

const COLLECT = {
  fields: [
    { key: 'quantity', label: 'Quantity', type: 'number', required: true },
    { key: 'name', label: 'Name', type: 'string', required: true },
  ],
};

let fake: FakeLlm;
let builtin: TestApp;
let model: TestApp;

beforeAll(async () => {
  fake = await startFakeLlm();
  builtin = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '10000/1m' });
  model = await createTestApp(fakeLlmEnv(fake.url));
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await builtin?.close();
  await model?.close();
  await fake?.close();
});

async function conversationOn(t: TestApp): Promise<{ owner: RegisteredUser; id: string }> {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { name: 'Order bot', collect: COLLECT });
  const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
  return { owner, id: conversation.id };
}

async function say(t: TestApp, owner: RegisteredUser, id: string, content: string): Promise<void> {
  const response = await sendMessage(t, owner, id, { content });
  expect(response.statusCode, response.body).toBe(201);
}

const dataOf = async (t: TestApp, owner: RegisteredUser, id: string) =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${id}/data`, headers: bearer(owner.accessToken) })).data as Record<string, unknown>;

describe('the builtin responder asked for a quantity', () => {
  it.each([
    ['two dozen', 24],
    ['Two dozen, please', 24],
    ['a dozen', 12],
    ['half a dozen', 6],
    ['three dozen roses', 36],
    ['2 dozen', 24],
    ['half a million', 500_000],
    ['a quarter million', 250_000],
    ['twelve hundred', 1200],
    ['one hundred and twenty', 120],
    ['1.1 dozen', 13.2],
    ['1.5 dozen', 18],
  ])('stores "%s" as %d', async (answer, stored) => {
    const { owner, id } = await conversationOn(builtin);
    await say(builtin, owner, id, 'Hello');
    await say(builtin, owner, id, answer);
    expect(await dataOf(builtin, owner, id)).toEqual({ quantity: stored });
  });
});

describe('a fraction word after a number', () => {
  it('is no part of it: "one quarter million" is not stored as 1,250,000', async () => {
    const { owner, id } = await conversationOn(builtin);
    await say(builtin, owner, id, 'Hello');
    await say(builtin, owner, id, 'one quarter million');
    expect(await dataOf(builtin, owner, id)).not.toEqual({ quantity: 1_250_000 });
  });
});

describe('a model asked for the same', () => {
  it.each([
    [24, 'We need two dozen.'],
    [500_000, 'Our budget is half a million.'],
  ])('has %d stored when the user says "%s"', async (value, content) => {
    const { owner, id } = await conversationOn(model);
    fake.setExtraction(() => ({ quantity: value, name: null }));
    await say(model, owner, id, content);
    expect(await dataOf(model, owner, id)).toEqual({ quantity: value });
  });

  it('cannot have two plus twelve stored for "two dozen"', async () => {
    const { owner, id } = await conversationOn(model);
    fake.setExtraction(() => ({ quantity: 14, name: null }));
    await say(model, owner, id, 'We need two dozen.');
    expect(await dataOf(model, owner, id)).toEqual({});
  });
});
