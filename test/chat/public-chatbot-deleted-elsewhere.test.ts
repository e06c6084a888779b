// Two instances on one database (§11). An instance keeps what it learnt of a public chatbot for
// AUTH_CACHE_MS; a chatbot deleted (or made private) on the other instance meanwhile is gone all
// the same: a visit started through the first answers 404 as for any unknown chatbot, and stores nothing.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startVisit, startVisitRaw } from '../helpers/public.js';

let one: TestApp;
let two: TestApp;

beforeAll(async () => {
  const shared = { JWT_SECRET: randomBytes(48).toString('base64url'), AUTH_CACHE_MS: '60000' };
  one = await createTestApp(shared);
  two = await createTestApp(shared, { sharedWith: one });
});
afterAll(async () => {
  await two?.close();
  await one?.close();
});

describe('a public chatbot deleted on another instance', () => {
  it('answers a new visit 404 not_found, a returning visitor too, and stores nothing', async () => {
    const owner = await registerUser(one);
    const bot = await createChatbot(one, owner, { name: 'Front desk', is_public: true });
    // The first instance learns of the chatbot, as any visit makes it.
    const first = await startVisit(one, bot.slug, { visitorId: 'page-1' });

    const deleted = await two.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    expect(deleted.statusCode).toBe(204);
    const conversationsBefore = await one.count('conversations');

    for (const [label, headers] of [['new', {}], ['returning', bearer(first.visitor_token)]] as const) {
      const response = await startVisitRaw(one, bot.slug, { visitor_id: 'page-2' }, headers);
      expect(response.statusCode, `${label}: ${response.body}`).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json().code).toBe('not_found');
    }
    expect(await one.count('conversations')).toBe(conversationsBefore);
  });

  it('answers a visit 404 once the chatbot was made private there, and stores nothing', async () => {
    const owner = await registerUser(one);
    const bot = await createChatbot(one, owner, { name: 'Lobby', is_public: true });
    await startVisit(one, bot.slug, { visitorId: 'page-1' });
    const changed = await two.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { is_public: false } });
    expect(changed.statusCode).toBe(200);
    const conversationsBefore = await one.count('conversations');
    const response = await startVisitRaw(one, bot.slug, { visitor_id: 'page-2' });
    expect(response.statusCode, response.body).toBe(404);
    expect(response.json().code).toBe('not_found');
    expect(await one.count('conversations')).toBe(conversationsBefore);
  });
});
