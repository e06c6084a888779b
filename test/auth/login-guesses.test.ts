// Password guesses at one account sent together, one per address so the per-address limit never
// bites. The per-account limit must hold for them as it does for guesses sent one after another:
// an attempt is counted before its (deliberately slow) password check, not after it.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { metricValue, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_LOGIN_ACCOUNT: '3/1m' });
});
afterAll(async () => {
  await t.close();
});

const login = (username: string, password: string, ip: string) =>
  t.request({ method: 'POST', url: '/v1/auth/login', payload: { username, password }, remoteAddress: ip });

describe('guesses at one account arriving together from many addresses (RATE_LIMIT_LOGIN_ACCOUNT=3/1m)', () => {
  it('get at most the limit of password checks; the rest are refused with 429', async () => {
    const victim = await registerUser(t);
    const verifiesBefore = await metricValue(t, 'parley_password_hash_operations_total', { operation: 'verify' });
    // 40 guesses from 40 addresses; the last one is the right password.
    const guesses = Array.from({ length: 40 }, (_, i) => (i === 39 ? victim.password : `guess number ${i}`));
    const answers = await Promise.all(guesses.map((password, i) => login(victim.username, password, `198.51.100.${i + 1}`)));
    const statuses = answers.map((answer) => answer.statusCode);
    const checked = statuses.filter((status) => status !== 429).length;
    const verified = (await metricValue(t, 'parley_password_hash_operations_total', { operation: 'verify' })) - verifiesBefore;

    expect(verified, `password checks run for one account within a minute (statuses: ${statuses.join(',')})`).toBeLessThanOrEqual(3);
    expect(checked, 'guesses answered 401/200 rather than 429').toBeLessThanOrEqual(3);
  });
});

/** Known addresses live 30 days in Redis: the test's own are removed from the shared instance. */
async function forget(url: string, userId: string) {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = await redis.keys(`parley:rl:*${userId}*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

describe('right passwords from new addresses (RATE_LIMIT_LOGIN_ACCOUNT=3/1m)', () => {
  const redisUrl = process.env.TEST_REDIS_URL;
  const stores: [string, Record<string, string>][] = [['memory', {}]];
  if (redisUrl) stores.push(['Redis', { REDIS_URL: redisUrl, REDIS_FAILURE_MODE: 'closed' }]);

  it.each(stores)('do not use up the account\'s attempts (%s store)', async (_store, env) => {
    const app = await createTestApp({ RATE_LIMIT_LOGIN_ACCOUNT: '3/1m', ...env });
    let userId = '';
    try {
      const user = await registerUser(app);
      userId = user.id;
      const signIn = (password: string, ip: string) =>
        app.request({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password }, remoteAddress: ip });
      // Five sign-ins from five new addresses: each attempt is counted first, then given back.
      for (let i = 1; i <= 5; i++) expect((await signIn(user.password, `192.0.2.${200 + i}`)).statusCode).toBe(200);
      // The failures still get the whole limit, and no more.
      for (let i = 0; i < 3; i++) expect((await signIn('not the password', '203.0.113.200')).statusCode).toBe(401);
      expect((await signIn('not the password', '203.0.113.200')).statusCode).toBe(429);
    } finally {
      await app.close();
      if (env.REDIS_URL && userId) await forget(env.REDIS_URL, userId);
    }
  });
});
