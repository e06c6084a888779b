// Admin routes answer 404 to everyone but admins, as if they did not exist: to regular users and
// to callers with no token or a refused one (decisions: "Admin routes are invisible"). A chatbot
// API key, valid or not, is no admin either; a valid one was answered 403 "An API key reaches
// only…", which told its holder the route exists where a made-up path answers 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe('admin routes called with a chatbot API key', () => {
  it('answer 404 like a route that does not exist, and change nothing', async () => {
    const owner = await registerUser(t);
    const other = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Keyed' });
    const { key } = await createApiKey(t, owner, bot.id);
    const unknown = await t.request({ method: 'GET', url: '/v1/admin/nothing-here', headers: bearer(key) });
    expect(unknown.statusCode).toBe(404);

    for (const [method, url] of [
      ['GET', '/v1/admin/users'],
      ['GET', '/v1/admin/stats'],
      ['PATCH', `/v1/admin/users/${other.id}`],
    ] as const) {
      const answer = await t.request({ method, url, headers: bearer(key), ...(method === 'PATCH' ? { payload: { is_active: false } } : {}) });
      expect(answer.statusCode, url).toBe(404);
      expect(json(answer).code, url).toBe('not_found');
      expect(Object.keys(json(answer)).sort(), url).toEqual(Object.keys(json(unknown)).sort());
    }
    expect((await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(other.accessToken) })).statusCode).toBe(200);
  });
});
