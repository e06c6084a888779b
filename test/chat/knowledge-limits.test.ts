import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, manualClock, registerUser, type RegisteredUser } from '../helpers/factories.js';

// Issue 10, point 2: each upload costs seconds of chunking, so one user cannot queue
// documents without bound (RATE_LIMIT_KNOWLEDGE_USER, §12).

const clock = manualClock();
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_KNOWLEDGE_USER: '2/1m' }, { clock });
});
afterAll(async () => {
  await t.close();
});

const upload = (user: RegisteredUser, chatbotId: string, title: string) =>
  t.request({ method: 'POST', url: `/v1/chatbots/${chatbotId}/knowledge`, headers: bearer(user.accessToken), payload: { title, content: `About ${title}.` } });

const titles = async (user: RegisteredUser, chatbotId: string) =>
  (json(await t.request({ method: 'GET', url: `/v1/chatbots/${chatbotId}/knowledge`, headers: bearer(user.accessToken) })).data as Array<{ title: string }>)
    .map((doc) => doc.title)
    .sort();

describe('knowledge uploads per user (RATE_LIMIT_KNOWLEDGE_USER=2/1m)', () => {
  it('refuses the third upload in a window with 429 and Retry-After, stores nothing, and accepts again after it', async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Limited' });
    expect((await upload(owner, bot.id, 'one')).statusCode).toBe(201);
    expect((await upload(owner, bot.id, 'two')).statusCode).toBe(201);

    const refused = await upload(owner, bot.id, 'three');
    expect(refused.statusCode, refused.body).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(refused)).toMatchObject({ status: 429, code: 'rate_limited' });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['ratelimit-policy']).toBe('"knowledge_user";q=2;w=60');
    expect(await titles(owner, bot.id)).toEqual(['one', 'two']);

    clock.advance(retryAfter * 1000);
    expect((await upload(owner, bot.id, 'three')).statusCode).toBe(201);
    expect(await titles(owner, bot.id)).toEqual(['one', 'three', 'two']);
  });

  it('counts per user: another user uploads while one is refused', async () => {
    const busy = await registerUser(t);
    const other = await registerUser(t);
    const busyBot = await createChatbot(t, busy, { name: 'Busy' });
    const otherBot = await createChatbot(t, other, { name: 'Other' });
    for (const title of ['a', 'b']) expect((await upload(busy, busyBot.id, title)).statusCode).toBe(201);
    expect((await upload(busy, busyBot.id, 'c')).statusCode).toBe(429);
    expect((await upload(other, otherBot.id, 'a')).statusCode).toBe(201);
  });
});
