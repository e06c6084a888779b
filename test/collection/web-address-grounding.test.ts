// A value a model gives is stored only when the user's message states it (§9). A web address was
// checked by its host and path alone: what a model added after them was stored as the user's. OpenAI's
// models append `?utm_source=chatgpt.com` to addresses they repeat, so "our site is acme.com" was
// stored as "https://acme.com?utm_source=chatgpt.com"; a query, a fragment or a port the user never
// wrote is no more theirs than a path they never wrote (which was refused already).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

let fake: FakeLlm;
let t: TestApp;

const COLLECT = {
  fields: [
    { key: 'website', label: 'website', type: 'url', required: true },
    { key: 'contact_email', label: 'contact email', type: 'email', required: true },
  ],
};

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

async function collected(extracted: string, content: string) {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { name: 'Lead bot', collect: COLLECT });
  const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
  fake.setExtraction(() => ({ website: extracted, contact_email: null }));
  const response = await sendMessage(t, owner, conversation.id, { content });
  expect(response.statusCode, response.body).toBe(201);
  const data = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/data`, headers: bearer(owner.accessToken) }));
  return data.data as Record<string, unknown>;
}

describe('a web address a model gives', () => {
  it.each([
    ['a tracking query', 'https://acme.com/?utm_source=chatgpt.com'],
    ['a fragment', 'https://acme.com/#contact'],
    ['a port', 'https://acme.com:8443/'],
  ])('with %s the user never wrote is not stored', async (_, extracted) => {
    expect(await collected(extracted, 'Our site is acme.com')).toEqual({});
  });

  it.each([
    ['a query and a fragment', 'Our pricing page is acme.com/pricing?plan=pro#faq', 'https://acme.com/pricing?plan=pro#faq'],
    ['a port', 'The portal is at acme.com:8443', 'https://acme.com:8443'],
    ['a query with an accent', 'See acme.com/search?q=café', 'https://acme.com/search?q=caf%C3%A9'],
    ['a query with a bare percent sign', 'Deals at acme.com/deals?off=50%', 'https://acme.com/deals?off=50%'],
  ])('with %s the user wrote is stored', async (_, content, stored) => {
    expect(await collected(stored, content)).toEqual({ website: stored });
  });
});
