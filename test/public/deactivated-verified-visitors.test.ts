// A host site's signed-in user whose account is deactivated (§3: deactivation stops everything
// of that user at once). Their visit's visitor token was handed out in their name and lives 30
// days; it must not keep them talking, reading or starting visits as that user. An anonymous
// visitor of the same chatbot is not affected, and the user active again may go on.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv, parseSse } from '../helpers/chat.js';
import { bearer, registerUser, uniqueUsername, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, startVisitRaw, visitorMessages, visitorSend, type Visit } from '../helpers/public.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

const ADMIN = uniqueUsername('admin');
let t: TestApp;
let llm: FakeLlm;
let admin: RegisteredUser;

beforeAll(async () => {
  llm = await startFakeLlm();
  // AUTH_CACHE_MS is left at its default: what a deployment runs with.
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

const stored = async () => ({ visitors: await t.count('visitors'), conversations: await t.count('conversations'), messages: await t.count('messages') });

it("refuses a deactivated user's visitor token at once, everywhere it opens, and takes it again once they are active", async () => {
  const owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Shop help', is_public: true });
  const shopper = await registerUser(t);
  const started = await startVisitRaw(t, bot.slug, { visitor_id: 'laptop' }, bearer(shopper.accessToken));
  expect(started.statusCode, started.body).toBe(201);
  const visit = json(started) as unknown as Visit;
  expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Where is my order?' })).statusCode).toBe(201);
  const anonymous = await startVisit(t, bot.slug);
  llm.reset();
  const before = await stored();

  expect((await setActive(shopper, false)).statusCode).toBe(200);
  const sent = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Still me' });
  const read = await visitorMessages(t, visit.visitor_token, visit.conversation_id);
  const again = await startVisitRaw(t, bot.slug, { visitor_id: 'laptop' }, bearer(visit.visitor_token));
  const stop = await t.request({ method: 'POST', url: `/v1/public/conversations/${visit.conversation_id}/stop`, headers: bearer(visit.visitor_token) });
  for (const refused of [sent, read, again, stop]) {
    expect(refused.statusCode, refused.body).toBe(401);
    expect(json(refused).code).toBe('invalid_token');
  }
  expect(llm.requests).toHaveLength(0);
  expect(await stored()).toEqual(before);
  // Nobody else's visit is touched.
  expect((await visitorSend(t, anonymous.visitor_token, anonymous.conversation_id, { content: 'Hello' })).statusCode).toBe(201);

  expect((await setActive(shopper, true)).statusCode).toBe(200);
  expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Back again' })).statusCode).toBe(201);
  expect((await startVisitRaw(t, bot.slug, { visitor_id: 'laptop' }, bearer(visit.visitor_token))).statusCode).toBe(201);
});

it("stops the reply being written to a user's visit when the user is deactivated, kept as interrupted", async () => {
  const owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Shop help', is_public: true });
  const shopper = await registerUser(t);
  const visit = json(await startVisitRaw(t, bot.slug, { visitor_id: 'laptop' }, bearer(shopper.accessToken))) as unknown as Visit;
  const longReply = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
  llm.setReply(() => longReply);
  llm.setDelays({ chunkDelayMs: 100 });
  const ended = visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'Tell me everything', stream: true });
  await llm.waitFor((requests) => requests.length > 0);
  expect((await setActive(shopper, false)).statusCode).toBe(200);

  const end = parseSse((await ended).body).at(-1)!;
  expect(end.event).toBe('message.end');
  expect(end.data.reply.status).toBe('interrupted');
  expect(end.data.reply.content).not.toBe(longReply);
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

  it.skipIf(skipRedis)(`refuses on one instance the visitor token of a user deactivated on the other, at once${skipReason}`, async () => {
    const boss = await registerUser(one, { username: adminName });
    const owner = await registerUser(one);
    const bot = await createChatbot(one, owner, { name: 'Shop help', is_public: true });
    const shopper = await registerUser(one);
    const visit = json(await startVisitRaw(two, bot.slug, { visitor_id: 'laptop' }, bearer(shopper.accessToken))) as unknown as Visit;
    expect((await visitorSend(two, visit.visitor_token, visit.conversation_id, { content: 'Where is my order?' })).statusCode).toBe(201);
    const deactivated = await one.request({ method: 'PATCH', url: `/v1/admin/users/${shopper.id}`, headers: bearer(boss.accessToken), payload: { is_active: false } });
    expect(deactivated.statusCode).toBe(200);
    llm.reset();
    expect((await visitorSend(two, visit.visitor_token, visit.conversation_id, { content: 'Still me' })).statusCode).toBe(401);
    expect(llm.requests).toHaveLength(0);
  });
});
