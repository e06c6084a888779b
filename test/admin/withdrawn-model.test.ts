// An operator takes a model off LLM_MODELS while chatbots were made with it. Turns already answered
// with the server's default model, but the chatbot still read as answering with the removed one:
// its owner had no way to learn which model their visitors were talking to.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let fake: FakeLlm;
let before: TestApp;
let after: TestApp;
let owner: RegisteredUser;
let bot: { id: string; slug: string };

beforeAll(async () => {
  fake = await startFakeLlm();
  const JWT_SECRET = randomBytes(48).toString('base64url');
  // One server before and after the operator's change: the same database, two configurations.
  before = await createTestApp(fakeLlmEnv(fake.url, { JWT_SECRET, LLM_MODELS: 'fake-model,retired-model' }));
  after = await createTestApp(fakeLlmEnv(fake.url, { JWT_SECRET, LLM_MODELS: 'fake-model' }), { sharedWith: before });
  owner = await registerUser(before);
  const created = await before.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload: { name: 'Old timer', model: 'retired-model' } });
  expect(created.statusCode, created.body).toBe(201);
  bot = json(created) as { id: string; slug: string };
});
afterEach(() => fake.reset());
afterAll(async () => {
  await after?.close();
  await before?.close();
  await fake?.close();
});

const read = (t: TestApp, url: string) => t.request({ method: 'GET', url, headers: bearer(owner.accessToken) });

describe('a chatbot whose model the operator no longer offers', () => {
  it('reads with the model chosen and the model that answers instead', async () => {
    expect(json(await read(before, `/v1/chatbots/${bot.id}`))).toMatchObject({ model: 'retired-model', model_in_use: 'retired-model' });
    const one = await read(after, `/v1/chatbots/${bot.id}`);
    expect(one.statusCode, one.body).toBe(200);
    expect(json(one)).toMatchObject({ model: 'retired-model', model_in_use: 'fake-model' });
    const listed = (json(await read(after, '/v1/chatbots')).data as Array<{ id: string }>).find((row) => row.id === bot.id);
    expect(listed).toMatchObject({ model: 'retired-model', model_in_use: 'fake-model' });
  });

  it('answers every channel with the default model, never calling the removed one', async () => {
    const chat = await after.request({ method: 'POST', url: '/v1/chat', headers: bearer(owner.accessToken), payload: { message: 'Hello', chatbot_id: bot.id } });
    expect(chat.statusCode, chat.body).toBe(201);
    expect(json(chat).reply.content).toBe('You said: Hello');
    const key = await createApiKey(after, owner, bot.id);
    const completion = await after.request({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: bearer(key.key),
      payload: { model: bot.slug, messages: [{ role: 'user', content: 'Hi' }], user: 'guest-1' },
    });
    expect(completion.statusCode, completion.body).toBe(200);
    // Named outright, the removed model is one the key may not use.
    const named = await after.request({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: bearer(key.key),
      payload: { model: 'retired-model', messages: [{ role: 'user', content: 'Hi' }], user: 'guest-1' },
    });
    expect(named.statusCode, named.body).toBe(404);
    expect(json(named).error.code).toBe('model_not_found');
    expect(fake.requests.map((request) => request.model)).toEqual(['fake-model', 'fake-model']);
  });

  it('keeps its other settings changeable, even sent back with the removed model, and refuses that model for another chatbot', async () => {
    const renamed = await after.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { description: 'Still here' } });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(json(renamed)).toMatchObject({ description: 'Still here', model: 'retired-model', model_in_use: 'fake-model' });
    // A settings form sends every field back as it was read, the model too.
    const form = await after.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { description: 'From the form', model: 'retired-model' } });
    expect(form.statusCode, form.body).toBe(200);
    expect(json(form)).toMatchObject({ description: 'From the form', model: 'retired-model', model_in_use: 'fake-model' });
    const other = await createChatbot(after, owner, { name: 'Newer' });
    const again = await after.request({ method: 'PATCH', url: `/v1/chatbots/${other.id}`, headers: bearer(owner.accessToken), payload: { model: 'retired-model' } });
    expect(again.statusCode, again.body).toBe(422);
    expect(json(again).errors[0].message).toBe('must be one of: fake-model');
    expect(json(await after.request({ method: 'GET', url: `/v1/chatbots/${other.id}`, headers: bearer(owner.accessToken) }))).toMatchObject({ model: 'fake-model' });
  });

  it('says in the API description what model_in_use is', async () => {
    const document = json(await after.request({ method: 'GET', url: '/openapi.json' }));
    const chatbot = document.paths['/v1/chatbots/{id}'].get.responses['200'].content['application/json'].schema.properties;
    expect(chatbot.model_in_use.description).toMatch(/LLM_MODELS/);
  });
});
