// GET /v1/admin/stats answers "counts and token usage across the server", but its tokens were the
// sum over stored messages: tokens an API key's /v1/chat/completions spent (nothing is stored for
// them) and those of conversations deleted since were left out, though the model was paid for them
// and /v1/usage counts them (§11: usage over every channel). An operator comparing the admin figure
// with a provider's bill, or finding who spends, saw a fraction: here, none of it.
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

const stats = async () => {
  const response = await t.request({ method: 'GET', url: '/v1/admin/stats', headers: bearer(admin.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).tokens as { prompt: number; completion: number };
};

/** What the user's own usage report says they spent, every day and channel together. */
async function usageOf(user: RegisteredUser) {
  const response = await t.request({ method: 'GET', url: '/v1/usage', headers: bearer(user.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  const days = json(response).data as Array<{ prompt_tokens: number; completion_tokens: number }>;
  return { prompt: days.reduce((sum, day) => sum + day.prompt_tokens, 0), completion: days.reduce((sum, day) => sum + day.completion_tokens, 0) };
}

describe('admin stats: tokens', () => {
  it('count what every channel spent, also for answers nothing stores and conversations deleted since', async () => {
    const before = await stats();
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Counted bot', greeting: 'Hello, how can I help?' });

    const key = await createApiKey(t, owner, bot.id);
    const completion = await t.request({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: bearer(key.key),
      payload: { model: bot.slug, messages: [{ role: 'user', content: 'What are your opening hours?' }], user: 'guest-1' },
    });
    expect(completion.statusCode, completion.body).toBe(200);
    expect(json(completion).usage.prompt_tokens).toBeGreaterThan(0);

    const chat = await t.request({ method: 'POST', url: '/v1/chat', headers: bearer(owner.accessToken), payload: { message: 'Hello there', chatbot_id: bot.id } });
    expect(chat.statusCode, chat.body).toBe(201);
    const deleted = await t.request({ method: 'DELETE', url: `/v1/conversations/${json(chat).conversation_id}`, headers: bearer(owner.accessToken) });
    expect(deleted.statusCode).toBe(204);

    // The completion's usage is written with others' a moment later (usage-buffer.ts): read once it is.
    const expected = json(completion).usage.prompt_tokens + json(chat).reply.usage.prompt_tokens;
    let spent = await usageOf(owner);
    for (let tries = 0; spent.prompt < expected && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      spent = await usageOf(owner);
    }
    expect(spent.prompt).toBe(expected);
    const after = await stats();
    expect({ prompt: after.prompt - before.prompt, completion: after.completion - before.completion }).toEqual(spent);
  });
});
