// Logout and deactivation bite at once on every instance (§3; docs/deploy.md: "the next request is
// refused wherever it lands"), including when the instance that takes the logout has lost Redis
// while the others still hear each other through it: they still reuse their session checks
// (AUTH_CACHE_MS), and nobody told them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, cluster, pgUrl, redisUrl, register, until, type Instance } from './cluster.js';

// Without TEST_REDIS_URL these are skipped with their reason, except in CI where a skip is a failure.
const skipRedis = !redisUrl && process.env.CI !== 'true';
const skipReason = skipRedis ? ' (skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379, to run)' : '';

describe.runIf(pgUrl)('an instance cut off from Redis while the others are not', () => {
  const instances = cluster();
  let cutOff: Instance;
  let other: Instance;
  let admin: { token: string };
  const adminName = `admin_${Date.now().toString(36)}`;

  beforeAll(async () => {
    if (skipRedis) return;
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    const env = { ADMIN_USERNAMES: adminName, LOG_LEVEL: 'info' };
    cutOff = await instances.start(env, { redis: 'proxied' });
    other = await instances.start(env, { redis: 'direct' });
    const answer = await call(cutOff.base, 'POST', '/v1/auth/register', { body: { username: adminName, password: 'admin password 1' } });
    expect(answer.status).toBe(201);
    admin = { token: answer.body.access_token };
  }, 60_000);
  afterAll(() => instances.cleanUp());

  const me = (instance: Instance, token: string) => call(instance.base, 'GET', '/v1/auth/me', { token });

  const logged = (instance: Instance, text: string) => instance.server.stdout().split(text).length - 1;
  async function cut(instance: Instance) {
    const before = logged(instance, 'Redis subscription lost');
    instance.redisProxy!.refuse(true);
    instance.redisProxy!.resetAll();
    await until(() => logged(instance, 'Redis subscription lost') > before, 'the instance to notice');
  }
  async function heal(instance: Instance) {
    const before = logged(instance, 'Redis subscription back');
    instance.redisProxy!.refuse(false);
    await until(() => logged(instance, 'Redis subscription back') > before, 'the subscription to come back');
  }

  it.skipIf(skipRedis)(`refuses a token logged out there at its next request on the other instance${skipReason}`, { timeout: 30_000 }, async () => {
    const account = await register(other.base);
    // The other instance has just checked the session, and may reuse that answer for a while.
    expect((await me(other, account.token)).status).toBe(200);
    await cut(cutOff);
    try {
      expect((await call(cutOff.base, 'POST', '/v1/auth/logout', { token: account.token })).status).toBe(204);
      const next = await me(other, account.token);
      expect(next.status).toBe(401);
    } finally {
      await heal(cutOff);
    }
  });

  it.skipIf(skipRedis)(`refuses a user deactivated there at their next request on the other instance${skipReason}`, { timeout: 30_000 }, async () => {
    const account = await register(other.base);
    expect((await me(other, account.token)).status).toBe(200);
    await cut(cutOff);
    try {
      expect((await call(cutOff.base, 'PATCH', `/v1/admin/users/${account.id}`, { token: admin.token, body: { is_active: false } })).status).toBe(200);
      expect((await me(other, account.token)).status).toBe(401);
    } finally {
      await heal(cutOff);
    }
  });
});
