// An enum option written with an accent (Café, Crêperie, Bäckerei) could not be chosen by a user
// who typed it without one, as phone keyboards and most people do: "cafe" was answered "Sorry,
// please choose Café, Bar or Restaurant" again and again, and with a model the option it chose
// from "we run a small cafe" was refused as "not stated". Accents are now forgiven on an enum's
// answer when that still names one option only; other field types keep the user's spelling.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

const COLLECT = {
  fields: [
    { key: 'kind', label: 'Kind of business', type: 'enum', required: true, options: ['Café', 'Crêperie', 'Bäckerei', 'Bar'] },
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

async function conversationOn(t: TestApp, collect: unknown = COLLECT): Promise<{ owner: RegisteredUser; id: string }> {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { name: 'Shop bot', collect });
  const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
  return { owner, id: conversation.id };
}

async function say(t: TestApp, owner: RegisteredUser, id: string, content: string): Promise<void> {
  const response = await sendMessage(t, owner, id, { content });
  expect(response.statusCode, response.body).toBe(201);
}

const dataOf = async (t: TestApp, owner: RegisteredUser, id: string) =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${id}/data`, headers: bearer(owner.accessToken) })).data as Record<string, unknown>;

async function builtinAnswer(answer: string, collect: unknown = COLLECT) {
  const { owner, id } = await conversationOn(builtin, collect);
  await say(builtin, owner, id, 'Hello');
  await say(builtin, owner, id, answer);
  return dataOf(builtin, owner, id);
}

describe('an enum option with an accent, answered without it', () => {
  it.each([
    ['cafe', 'Café'],
    ['A creperie, please', 'Crêperie'],
    ['backerei', 'Bäckerei'],
    ['We run a small cafe', 'Café'],
  ])('the builtin responder stores "%s" as %s', async (answer, stored) => {
    expect(await builtinAnswer(answer)).toEqual({ kind: stored });
  });

  it('is still not guessed between two options that differ by their accents alone', async () => {
    const collect = { fields: [{ key: 'kind', label: 'Kind', type: 'enum', required: true, options: ['Resume', 'Résumé'] }] };
    expect(await builtinAnswer('résumé', collect)).toEqual({ kind: 'Résumé' });
    expect(await builtinAnswer('resume', collect)).toEqual({ kind: 'Resume' });
    expect(await builtinAnswer('a resumé', collect)).toEqual({});
  });

  it('forgives the accents of Latin letters only: Cyrillic "мои" does not choose "Мой"', async () => {
    const collect = { fields: [{ key: 'kind', label: 'Kind', type: 'enum', required: true, options: ['Мой', 'Наш'] }] };
    expect(await builtinAnswer('мои', collect)).toEqual({});
    expect(await builtinAnswer('мой', collect)).toEqual({ kind: 'Мой' });
  });

  it('a model has the option it chose stored', async () => {
    const { owner, id } = await conversationOn(model);
    fake.setExtraction(() => ({ kind: 'Café', name: null }));
    await say(model, owner, id, 'We run a small cafe in Lyon.');
    expect(await dataOf(model, owner, id)).toEqual({ kind: 'Café' });
  });
});
