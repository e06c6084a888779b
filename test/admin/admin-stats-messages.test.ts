// GET /v1/admin/stats `messages` counted the messages stored now (a user's and the reply, both),
// while GET /v1/usage `messages` counts model replies on every channel, kept when a conversation is
// deleted and made for API-key completions, which store none. Same name, two counts: an operator
// comparing them (or the stats' messages with its tokens, which are usage's) read a mismatch.
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

async function stats() {
  const response = await t.request({ method: 'GET', url: '/v1/admin/stats', headers: bearer(admin.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response) as { messages: number; replies: number; conversations: number };
}

async function repliesIn(user: RegisteredUser): Promise<number> {
  const response = await t.request({ method: 'GET', url: '/v1/usage', headers: bearer(user.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return (json(response).data as Array<{ messages: number }>).reduce((sum, day) => sum + day.messages, 0);
}

describe('admin stats: messages and replies', () => {
  it('count stored messages apart from model replies, which match what /v1/usage counts', async () => {
    const before = await stats();
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Counting bot' });
    const chat = (message: string) => t.request({ method: 'POST', url: '/v1/chat', headers: bearer(owner.accessToken), payload: { message, chatbot_id: bot.id } });

    const kept = await chat('Hello there');
    expect(kept.statusCode, kept.body).toBe(201);
    const gone = await chat('Forget this one');
    expect(gone.statusCode, gone.body).toBe(201);
    expect((await t.request({ method: 'DELETE', url: `/v1/conversations/${json(gone).conversation_id}`, headers: bearer(owner.accessToken) })).statusCode).toBe(204);
    const key = await createApiKey(t, owner, bot.id);
    const completion = await t.request({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: bearer(key.key),
      payload: { model: bot.slug, messages: [{ role: 'user', content: 'Opening hours?' }], user: 'guest-1' },
    });
    expect(completion.statusCode, completion.body).toBe(200);

    // The completion's usage is written with others' a moment later (usage-buffer.ts).
    let replies = await repliesIn(owner);
    for (let tries = 0; replies < 3 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      replies = await repliesIn(owner);
    }
    expect(replies).toBe(3);
    const after = await stats();
    // Stored now: the kept conversation's message and its reply.
    expect(after.messages - before.messages).toBe(2);
    expect(after.replies - before.replies).toBe(replies);
  });

  it('say in the API description what each count counts', async () => {
    const document = json(await t.request({ method: 'GET', url: '/openapi.json' }));
    const schemaOf = (path: string) => document.paths[path].get.responses['200'].content['application/json'].schema;
    const counts = schemaOf('/v1/admin/stats').properties as Record<string, { description?: string }>;
    expect(counts.messages?.description).toMatch(/stored/);
    expect(counts.replies?.description).toMatch(/\/v1\/usage/);
    const day = schemaOf('/v1/usage').properties.data.items.properties as Record<string, { description?: string }>;
    expect(day.messages?.description).toMatch(/API key/);
    expect(day.messages?.description).toMatch(/deleted/);
  });

  it('refuses a parameter it does not take, as every other route does', async () => {
    const response = await t.request({ method: 'GET', url: '/v1/admin/stats?since=2026-01-01', headers: bearer(admin.accessToken) });
    expect(response.statusCode, response.body).toBe(422);
    expect(response.headers['content-type']).toMatch(/problem\+json/);
    expect(json(response).code).toBe('validation_failed');
  });
});
