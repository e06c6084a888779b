// A web address whose name is written in its own script (bücher.de, 例子.台灣, müller-bäckerei.at)
// told to a collecting chatbot that runs a model was never stored. The validator turns the name
// into its ASCII form (https://xn--bcher-kva.de) and grounding then looked for that form in the
// user's message, where the user had written the name as they know it: every such address was
// refused as "the user did not state that value", and a required website field kept being asked
// for. The builtin responder stored the same answer at once, so only model chatbots failed.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

let fake: FakeLlm;
let t: TestApp;

const COLLECT = { fields: [{ key: 'website', label: 'website', type: 'url', required: true }] };

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
  fake.setExtraction(() => ({ website: extracted }));
  const response = await sendMessage(t, owner, conversation.id, { content });
  expect(response.statusCode, response.body).toBe(201);
  return json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/data`, headers: bearer(owner.accessToken) }));
}

describe('a web address with an international name, given by a model', () => {
  it.each([
    ['German, as the user wrote it', 'Unsere Seite ist bücher.de', 'bücher.de', 'https://xn--bcher-kva.de'],
    ['German, with the scheme', 'Our site is https://Bücher.de/über-uns', 'https://bücher.de/über-uns', 'https://xn--bcher-kva.de/%C3%BCber-uns'],
    ['Chinese', '我們的網站是 例子.台灣', '例子.台灣', 'https://xn--fsqu00a.xn--kpry57d'],
    ['in its ASCII form, as the user wrote it', 'Our site is xn--bcher-kva.de', 'https://bücher.de', 'https://xn--bcher-kva.de'],
  ])('is stored when the user wrote it (%s)', async (_, content, extracted, stored) => {
    expect(await collected(extracted, content)).toEqual({ data: { website: stored }, missing: [], completed: true });
  });

  it('is still refused when the user wrote another name', async () => {
    const answer = await collected('bücher.de', 'Our site is bucher.de');
    expect(answer.data).toEqual({});
    expect(answer.missing).toEqual(['website']);
  });
});
