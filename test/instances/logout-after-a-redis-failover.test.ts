// After a Redis failover the old primary lives on as a replica, and an instance's connections opened
// before stay on it: it can still publish there, but what is published on a replica reaches no one
// attached to the new primary. docs/deploy.md promises that after a logout "the next request is
// refused wherever it lands": an instance started after the failover (on the new primary) must hear
// a logout made on one started before.
import { afterAll, describe, expect, it } from 'vitest';
import { call, cluster, pgUrl, register } from './cluster.js';
import { haveRedisServer, redisFailover, type RedisFailover } from './redis-failover.js';

const skip = !haveRedisServer && process.env.CI !== 'true';
const skipReason = skip ? ' (skipped: needs redis-server on the PATH)' : '';

describe.runIf(pgUrl)('a logout after a Redis failover, on two instances', () => {
  const instances = cluster();
  let redis: RedisFailover | undefined;
  afterAll(async () => {
    await instances.cleanUp();
    await redis?.close();
  });

  it.skipIf(skip)(`is refused at once on an instance started after the failover${skipReason}`, { timeout: 90_000 }, async () => {
    redis = await redisFailover();
    // Session checks reused for 10 s: a check made before the logout is still reused after it unless the instance is told.
    const env = { REDIS_URL: redis.url, AUTH_CACHE_MS: '10000' };
    const before = await instances.start(env, { redis: 'none' });
    redis.failOver();
    const after = await instances.start(env, { redis: 'none' });

    const account = await register(before.base);
    expect((await call(after.base, 'GET', '/v1/auth/me', { token: account.token })).status).toBe(200);
    expect((await call(before.base, 'POST', '/v1/auth/logout', { token: account.token, body: {} })).status).toBe(204);
    expect((await call(after.base, 'GET', '/v1/auth/me', { token: account.token })).status).toBe(401);
  });
});
