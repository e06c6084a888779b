// What a chatbot spent stays spent when the chatbot is deleted. Its usage rows were deleted with it
// (a cascade), so an account's GET /v1/usage and the server's admin stats fell back as if the
// replies had never been made: an operator billing from /v1/usage lost them, and an account could
// wipe its month by deleting a chatbot the day before the bill.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli-users.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let admin: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  admin = await registerUser(t);
  await runUsersCommand(['promote', admin.username], t.database.sql);
});
afterAll(async () => {
  await t?.close();
});

type Totals = { messages: number; prompt: number; completion: number };

async function usageOf(user: RegisteredUser, query = ''): Promise<Totals> {
  const response = await t.request({ method: 'GET', url: `/v1/usage${query}`, headers: bearer(user.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  const days = json(response).data as Array<{ messages: number; prompt_tokens: number; completion_tokens: number }>;
  return days.reduce((sum, day) => ({ messages: sum.messages + day.messages, prompt: sum.prompt + day.prompt_tokens, completion: sum.completion + day.completion_tokens }), { messages: 0, prompt: 0, completion: 0 });
}

async function adminStats(): Promise<Totals> {
  const response = await t.request({ method: 'GET', url: '/v1/admin/stats', headers: bearer(admin.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  const body = json(response);
  return { messages: body.replies, prompt: body.tokens.prompt, completion: body.tokens.completion };
}

/** Reads the account's usage until `messages` replies are written (an API key's usage is written a moment after its answer). */
async function settledUsage(user: RegisteredUser, messages: number): Promise<Totals> {
  let usage = await usageOf(user);
  for (let tries = 0; usage.messages < messages && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    usage = await usageOf(user);
  }
  return usage;
}

describe('a deleted chatbot’s usage', () => {
  it('stays in the account’s usage and the admin stats; the chatbot itself is no longer a filter', async () => {
    const owner = await registerUser(t);
    const kept = await createChatbot(t, owner, { name: 'Kept bot' });
    const doomed = await createChatbot(t, owner, { name: 'Doomed bot' });

    for (const bot of [kept, doomed]) {
      const chat = await t.request({ method: 'POST', url: '/v1/chat', headers: bearer(owner.accessToken), payload: { message: 'What are your opening hours?', chatbot_id: bot.id } });
      expect(chat.statusCode, chat.body).toBe(201);
    }
    const key = await createApiKey(t, owner, doomed.id);
    const completion = await t.request({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: bearer(key.key),
      payload: { model: doomed.slug, messages: [{ role: 'user', content: 'And on Sundays?' }], user: 'guest-1' },
    });
    expect(completion.statusCode, completion.body).toBe(200);

    const before = await settledUsage(owner, 3);
    expect(before.messages).toBe(3);
    const keptAlone = await usageOf(owner, `?chatbot_id=${kept.id}`);
    expect(keptAlone.messages).toBe(1);
    const statsBefore = await adminStats();

    const deleted = await t.request({ method: 'DELETE', url: `/v1/chatbots/${doomed.id}`, headers: bearer(owner.accessToken) });
    expect(deleted.statusCode, deleted.body).toBe(204);

    expect(await usageOf(owner)).toEqual(before);
    expect(await adminStats()).toEqual(statsBefore);
    expect(await usageOf(owner, `?chatbot_id=${kept.id}`)).toEqual(keptAlone);
    // The deleted chatbot names nothing now, as any chatbot the account does not have.
    const gone = await t.request({ method: 'GET', url: `/v1/usage?chatbot_id=${doomed.id}`, headers: bearer(owner.accessToken) });
    expect(gone.statusCode, gone.body).toBe(404);
    expect(gone.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('counts an API key’s reply whose usage was still to be written when the chatbot was deleted', async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Quickly gone' });
    const key = await createApiKey(t, owner, bot.id);
    const completion = await t.request({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: bearer(key.key),
      payload: { model: bot.slug, messages: [{ role: 'user', content: 'Hello' }], user: 'guest-2' },
    });
    expect(completion.statusCode, completion.body).toBe(200);
    // At once: such usage is written a moment after the answer (usage-buffer.ts).
    expect((await t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) })).statusCode).toBe(204);

    const usage = await settledUsage(owner, 1);
    expect(usage).toEqual({ messages: 1, prompt: json(completion).usage.prompt_tokens, completion: json(completion).usage.completion_tokens });
  });
});
