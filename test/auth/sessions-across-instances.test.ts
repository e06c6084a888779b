// Logout, deactivation and a password change end sessions at once, on every instance (§3): the next request with
// its token is refused wherever it lands, and a reply it is streaming stops, stored interrupted.
// Two instances share one database and one Redis, as behind a load balancer; one instance on its
// own needs no Redis.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/cli-token.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { chattingUser, fakeLlmEnv, parseSse } from '../helpers/chat.js';
import { bearer, registerUser, uniqueUsername, type RegisteredUser } from '../helpers/factories.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake?.close();
});

const longReply = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');

const me = (t: TestApp, user: RegisteredUser) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(user.accessToken) });
const logout = (t: TestApp, user: RegisteredUser) => t.request({ method: 'POST', url: '/v1/auth/logout', headers: bearer(user.accessToken) });
const patchUser = (t: TestApp, admin: RegisteredUser, id: string, payload: object) =>
  t.request({ method: 'PATCH', url: `/v1/admin/users/${id}`, headers: bearer(admin.accessToken), payload });
const signIn = async (t: TestApp, user: RegisteredUser): Promise<RegisteredUser> => {
  const response = await t.request({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password: user.password } });
  expect(response.statusCode, response.body).toBe(200);
  return { ...user, accessToken: json(response).access_token, refreshToken: json(response).refresh_token };
};

/**
 * A streamed reply that the model takes seconds to finish; resolves once the model is answering.
 * `ended` settles with the stream's events when it ends.
 */
async function runningStream(t: TestApp, user: RegisteredUser, conversationId: string) {
  fake.setReply(() => longReply);
  fake.setDelays({ chunkDelayMs: 100 });
  const before = fake.requests.length;
  const ended = t
    .request({ method: 'POST', url: `/v1/conversations/${conversationId}/messages`, headers: bearer(user.accessToken), payload: { content: 'Talk for a while', stream: true } })
    .then((response) => ({ status: response.statusCode, events: parseSse(response.body) }));
  await fake.waitFor((requests) => requests.length > before);
  return { ended };
}

/** The stream ended early with its reply stored as interrupted, and the model call was cut. */
async function expectInterrupted(t: TestApp, reader: RegisteredUser, conversationId: string, stream: Awaited<ReturnType<typeof runningStream>>) {
  const { status, events } = await stream.ended;
  expect(status).toBe(200);
  const end = events.at(-1)!;
  expect(end.event).toBe('message.end');
  expect(end.data.reply.status).toBe('interrupted');
  expect(end.data.reply.content).not.toBe(longReply);
  const messages = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}/messages`, headers: bearer(reader.accessToken) })).data as any[];
  expect(messages.at(-1)).toMatchObject({ role: 'assistant', status: 'interrupted' });
  await fake.waitFor((requests) => requests.at(-1)?.closedAt != null, 2000);
  expect(fake.requests.at(-1)!.aborted).toBe(true);
}

describe('on two instances sharing the database and Redis', () => {
  const redisUrl = process.env.TEST_REDIS_URL;
  // Without TEST_REDIS_URL these are skipped with their reason, except in CI where a skip is a failure.
  const skipRedis = !redisUrl && process.env.CI !== 'true';
  const skipReason = skipRedis ? ' (skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379, to run)' : '';
  const adminName = uniqueUsername('admin');
  let one: TestApp;
  let two: TestApp;
  let admin: RegisteredUser;

  beforeAll(async () => {
    if (skipRedis) return;
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    const env = fakeLlmEnv(fake.url, { JWT_SECRET: randomBytes(48).toString('base64url'), REDIS_URL: redisUrl, ADMIN_USERNAMES: adminName });
    one = await createTestApp(env);
    two = await createTestApp(env, { sharedWith: one });
    admin = await registerUser(one, { username: adminName });
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
  });

  it.skipIf(skipRedis)(`refuse a token logged out on one instance at its very next request on the other${skipReason}`, async () => {
    const user = await registerUser(one);
    const otherSession = await signIn(one, user);
    // The other instance has just seen the session working.
    expect((await me(two, user)).statusCode).toBe(200);
    expect((await me(two, otherSession)).statusCode).toBe(200);

    expect((await logout(one, user)).statusCode).toBe(204);
    const refused = await me(two, user);
    expect(refused.statusCode).toBe(401);
    expect(json(refused).code).toBe('invalid_token');
    // Only that session ended.
    expect((await me(two, otherSession)).statusCode).toBe(200);
  });

  it.skipIf(skipRedis)(`refuse the other sessions of a password changed, or signed out everywhere, on one instance at once on the other${skipReason}`, async () => {
    const user = await registerUser(one);
    const elsewhere = await signIn(one, user);
    expect((await me(two, user)).statusCode).toBe(200);
    expect((await me(two, elsewhere)).statusCode).toBe(200);
    const changed = await one.request({ method: 'PUT', url: '/v1/auth/password', headers: bearer(user.accessToken), payload: { current_password: user.password, new_password: 'another long passphrase' } });
    expect(changed.statusCode, changed.body).toBe(204);
    expect((await me(two, elsewhere)).statusCode).toBe(401);
    expect((await me(two, user)).statusCode).toBe(200);

    const third = await signIn(one, { ...user, password: 'another long passphrase' });
    expect((await me(two, third)).statusCode).toBe(200);
    const out = await one.request({ method: 'POST', url: '/v1/auth/logout', headers: bearer(user.accessToken), payload: { everywhere: true } });
    expect(out.statusCode, out.body).toBe(204);
    expect((await me(two, third)).statusCode).toBe(401);
    expect((await me(two, user)).statusCode).toBe(401);
  });

  it.skipIf(skipRedis)(`refuse a user deactivated on one instance at once on the other, and take them back at once${skipReason}`, async () => {
    const user = await registerUser(one);
    expect((await me(two, user)).statusCode).toBe(200);

    expect((await patchUser(one, admin, user.id, { is_active: false })).statusCode).toBe(200);
    expect((await me(two, user)).statusCode).toBe(401);

    expect((await patchUser(one, admin, user.id, { is_active: true })).statusCode).toBe(200);
    expect((await me(two, user)).statusCode).toBe(200);
  });

  it.skipIf(skipRedis)(`apply a role changed on one instance at once on the other${skipReason}`, async () => {
    const user = await registerUser(one);
    expect(json(await me(two, user)).role).toBe('user');
    expect((await two.request({ method: 'GET', url: '/v1/admin/stats', headers: bearer(user.accessToken) })).statusCode).toBe(404);

    expect((await patchUser(one, admin, user.id, { role: 'admin' })).statusCode).toBe(200);
    expect(json(await me(two, user)).role).toBe('admin');
    expect((await two.request({ method: 'GET', url: '/v1/admin/stats', headers: bearer(user.accessToken) })).statusCode).toBe(200);
  });

  it.skipIf(skipRedis)(`stop a reply streaming on one instance when its session logs out on the other${skipReason}`, async () => {
    const { user, conversation } = await chattingUser(two);
    const reader = await signIn(two, user);
    const stream = await runningStream(two, user, conversation.id);

    expect((await logout(one, user)).statusCode).toBe(204);
    await expectInterrupted(two, reader, conversation.id, stream);
  });

  it.skipIf(skipRedis)(`stop a reply streaming on one instance when its user is deactivated on the other${skipReason}`, async () => {
    const { user, conversation } = await chattingUser(two);
    const stream = await runningStream(two, user, conversation.id);

    expect((await patchUser(one, admin, user.id, { is_active: false })).statusCode).toBe(200);
    expect((await patchUser(one, admin, user.id, { is_active: true })).statusCode).toBe(200);
    await expectInterrupted(two, user, conversation.id, stream);
  });
});

async function until(probe: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('when an instance loses Redis', () => {
  const redisUrl = process.env.TEST_REDIS_URL;
  const skipRedis = !redisUrl && process.env.CI !== 'true';
  const skipReason = skipRedis ? ' (skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379, to run)' : '';

  /** Two instances on one database and one Redis; the second reaches Redis through a proxy the test can cut or silence. */
  async function twoInstances() {
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    const target = new URL(redisUrl);
    const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
    const secret = { JWT_SECRET: randomBytes(48).toString('base64url') };
    const one = await createTestApp({ ...secret, REDIS_URL: redisUrl });
    const two = await createTestApp({ ...secret, REDIS_URL: proxy.url(redisUrl) }, { sharedWith: one });
    const logged = (text: string) => () => two.logs.some((line) => line.includes(text));
    const close = async () => {
      await two.close();
      await one.close();
      await proxy.close();
    };
    return { proxy, one, two, logged, close };
  }

  /** A new sign-in on the first instance is accepted on the second, and refused there at once after its logout. */
  async function expectLogoutsHeard(one: TestApp, two: TestApp, user: RegisteredUser) {
    const again = await signIn(one, user);
    expect((await me(two, again)).statusCode).toBe(200);
    expect((await logout(one, again)).statusCode).toBe(204);
    expect((await me(two, again)).statusCode).toBe(401);
  }

  it.skipIf(skipRedis)(`it refuses a token logged out meanwhile, and hears logouts again once Redis is back${skipReason}`, async () => {
    const { proxy, one, two, logged, close } = await twoInstances();
    try {
      const user = await registerUser(one);
      expect((await me(two, user)).statusCode).toBe(200);

      // The instance's connections to Redis are cut: it cannot hear the logout below.
      proxy.refuse(true);
      proxy.resetAll();
      await until(logged('Redis subscription lost'), 'the instance to notice');
      expect((await logout(one, user)).statusCode).toBe(204);
      expect((await me(two, user)).statusCode).toBe(401);

      proxy.refuse(false);
      await until(logged('Redis subscription back'), 'the subscription to come back');
      await expectLogoutsHeard(one, two, user);
    } finally {
      await close();
    }
  });

  it.skipIf(skipRedis)(`refuses at once a token logged out while its link to Redis is silent (a partition: no reset, nothing answers)${skipReason}`, async () => {
    const { proxy, one, two, logged, close } = await twoInstances();
    try {
      const user = await registerUser(one);
      // The second instance checked this token a moment ago and may reuse that answer (AUTH_CACHE_MS, 2 s).
      expect((await me(two, user)).statusCode).toBe(200);
      proxy.stall(true);
      // The logout waits for the second instance's confirmation, which cannot come, and answers.
      expect((await logout(one, user)).statusCode).toBe(204);
      expect((await me(two, user)).statusCode).toBe(401);
      expect(two.logs.some((line) => line.includes('Redis subscription silent'))).toBe(true);

      // Once the link answers again, the second instance hears logouts again.
      proxy.stall(false);
      await until(logged('Redis subscription back'), 'the subscription to answer again');
      await expectLogoutsHeard(one, two, user);
    } finally {
      await close();
    }
  });

  it.skipIf(skipRedis)(`does not take its own busy event loop for a silent link to Redis${skipReason}`, async () => {
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    const t = await createTestApp({ REDIS_URL: redisUrl });
    try {
      const user = await registerUser(t);
      expect((await me(t, user)).statusCode).toBe(200);
      // For 6 s, stretches of 450 ms in which nothing else runs, longer than a ping may take. Run
      // from a timer, each starts right after the ping sent in the same round of timers, before
      // its answer can be read: the answer is there, unread, when the ping's time is up.
      const blocks = setInterval(() => {
        const until = performance.now() + 450;
        while (performance.now() < until);
      }, 1);
      await new Promise((resolve) => setTimeout(resolve, 6000));
      clearInterval(blocks);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(t.logs.filter((line) => line.includes('Redis subscription silent'))).toEqual([]);
    } finally {
      await t.close();
    }
  });
});

describe('on one instance without Redis', () => {
  const adminName = uniqueUsername('admin');
  const externalSecret = randomBytes(32).toString('hex');
  let t: TestApp;
  let admin: RegisteredUser;

  beforeAll(async () => {
    t = await createTestApp(fakeLlmEnv(fake.url, { ADMIN_USERNAMES: adminName, EXTERNAL_JWT_SECRET: externalSecret }));
    admin = await registerUser(t, { username: adminName });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a deactivated user at their next request, and takes them back at once', async () => {
    const user = await registerUser(t);
    expect((await me(t, user)).statusCode).toBe(200);

    expect((await patchUser(t, admin, user.id, { is_active: false })).statusCode).toBe(200);
    const refused = await me(t, user);
    expect(refused.statusCode).toBe(401);
    expect(json(refused).code).toBe('invalid_token');

    expect((await patchUser(t, admin, user.id, { is_active: true })).statusCode).toBe(200);
    expect((await me(t, user)).statusCode).toBe(200);
  });

  it("refuses a deactivated external user at their next request (their own system's token)", async () => {
    const token = await mintToken(['--user-id', uniqueUsername('ext'), '--username', uniqueUsername('ext')], { EXTERNAL_JWT_SECRET: externalSecret });
    const first = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
    expect(first.statusCode).toBe(200);

    expect((await patchUser(t, admin, json(first).id, { is_active: false })).statusCode).toBe(200);
    expect((await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) })).statusCode).toBe(401);
  });

  it('applies a role change at the next request', async () => {
    const user = await registerUser(t);
    expect(json(await me(t, user)).role).toBe('user');
    expect((await patchUser(t, admin, user.id, { role: 'admin' })).statusCode).toBe(200);
    expect(json(await me(t, user)).role).toBe('admin');
  });

  it('stops a streaming reply when its session logs out', async () => {
    const { user, conversation } = await chattingUser(t);
    const reader = await signIn(t, user);
    const stream = await runningStream(t, user, conversation.id);

    expect((await logout(t, user)).statusCode).toBe(204);
    await expectInterrupted(t, reader, conversation.id, stream);
  });

  it('stops a streaming reply when its user is deactivated', async () => {
    const { user, conversation } = await chattingUser(t);
    const stream = await runningStream(t, user, conversation.id);

    expect((await patchUser(t, admin, user.id, { is_active: false })).statusCode).toBe(200);
    expect((await patchUser(t, admin, user.id, { is_active: true })).statusCode).toBe(200);
    await expectInterrupted(t, user, conversation.id, stream);
  });
});
