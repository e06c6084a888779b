// A deactivated owner's public chatbots stop at once (§3: deactivation stops everything of that
// user), with the default AUTH_CACHE_MS: the public chatbot lookup keeps answers for that long,
// and a deactivation must not wait for them to lapse. Visitors are refused as for a chatbot made
// private (404), nothing is stored and the model is not asked; reactivated, it answers again.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { bearer, registerUser, uniqueUsername, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, startVisitRaw, visitorMessages, visitorSend } from '../helpers/public.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

const ADMIN = uniqueUsername('admin');
let t: TestApp;
let llm: FakeLlm;
let admin: RegisteredUser;

beforeAll(async () => {
  llm = await startFakeLlm();
  // AUTH_CACHE_MS is left at its default (2 s): what a deployment runs with.
  t = await createTestApp(fakeLlmEnv(llm.url, { ADMIN_USERNAMES: ADMIN, RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_VISITOR: '10000/1m' }));
  admin = await registerUser(t, { username: ADMIN });
});
afterAll(async () => {
  await t?.close();
  await llm?.close();
});
beforeEach(() => llm.reset());

const setActive = (user: RegisteredUser, active: boolean) =>
  t.request({ method: 'PATCH', url: `/v1/admin/users/${user.id}`, headers: bearer(admin.accessToken), payload: { is_active: active } });

it("refuses a deactivated owner's visitors at once, before the public lookup's cache lapses", async () => {
  const owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Front desk', is_public: true });
  const visit = await startVisit(t, bot.slug);
  // The chatbot was just looked up: its answer is what the cache holds.
  expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Hello' })).statusCode).toBe(201);
  expect((await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}` })).statusCode).toBe(200);
  llm.reset();
  const before = { visitors: await t.count('visitors'), conversations: await t.count('conversations'), messages: await t.count('messages') };

  expect((await setActive(owner, false)).statusCode).toBe(200);
  const page = await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}` });
  const start = await startVisitRaw(t, bot.slug, { visitor_id: 'new-visitor' });
  const returning = await startVisitRaw(t, bot.slug, { visitor_id: 'visitor-1' }, bearer(visit.visitor_token));
  const sent = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Are you there?' });
  const read = await visitorMessages(t, visit.visitor_token, visit.conversation_id);
  const hosted = await t.request({ method: 'GET', url: `/c/${bot.slug}` });
  expect([page, start, returning, sent, read, hosted].map((r) => r.statusCode)).toEqual([404, 404, 404, 404, 404, 404]);
  expect(llm.requests).toHaveLength(0);
  expect({ visitors: await t.count('visitors'), conversations: await t.count('conversations'), messages: await t.count('messages') }).toEqual(before);

  expect((await setActive(owner, true)).statusCode).toBe(200);
  expect((await t.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}` })).statusCode).toBe(200);
  expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Back?' })).statusCode).toBe(201);
});

describe('on two instances sharing the database and Redis', () => {
  const redisUrl = process.env.TEST_REDIS_URL;
  // Without TEST_REDIS_URL this is skipped with its reason, except in CI where a skip is a failure.
  const skipRedis = !redisUrl && process.env.CI !== 'true';
  const skipReason = skipRedis ? ' (skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379, to run)' : '';
  const adminName = uniqueUsername('admin');
  let one: TestApp;
  let two: TestApp;

  beforeAll(async () => {
    if (skipRedis) return;
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    const env = fakeLlmEnv(llm.url, { JWT_SECRET: randomBytes(48).toString('base64url'), REDIS_URL: redisUrl, ADMIN_USERNAMES: adminName, RATE_LIMIT_PUBLIC_IP: '10000/1m' });
    one = await createTestApp(env);
    two = await createTestApp(env, { sharedWith: one });
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
  });

  it.skipIf(skipRedis)(`refuses on one instance the visitors of an owner deactivated on the other, at once${skipReason}`, async () => {
    const boss = await registerUser(one, { username: adminName });
    const owner = await registerUser(one);
    const bot = await createChatbot(one, owner, { name: 'Front desk', is_public: true });
    const visit = await startVisit(two, bot.slug);
    expect((await visitorSend(two, visit.visitor_token, visit.conversation_id, { content: 'Hello' })).statusCode).toBe(201);
    const deactivated = await one.request({ method: 'PATCH', url: `/v1/admin/users/${owner.id}`, headers: bearer(boss.accessToken), payload: { is_active: false } });
    expect(deactivated.statusCode).toBe(200);
    llm.reset();
    expect((await visitorSend(two, visit.visitor_token, visit.conversation_id, { content: 'Still there?' })).statusCode).toBe(404);
    expect((await two.request({ method: 'GET', url: `/v1/public/chatbots/${bot.slug}` })).statusCode).toBe(404);
    expect(llm.requests).toHaveLength(0);
  });
});
