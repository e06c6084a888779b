// After a Redis failover the old primary lives on as a replica, and a connection opened before
// stays up and answers every write `READONLY`. Shared limits must follow the endpoint to the new
// primary, not the connection: once the failover is over they apply again (docs/deploy.md), rather
// than following REDIS_FAILURE_MODE until Parley is restarted.
import { afterAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { until } from './cluster.js';
import { haveRedisServer, redisFailover, type RedisFailover } from './redis-failover.js';

const skip = !haveRedisServer && process.env.CI !== 'true';
const skipReason = skip ? ' (skipped: needs redis-server on the PATH)' : '';

describe('shared limits after a Redis failover (REDIS_FAILURE_MODE=closed)', () => {
  let redis: RedisFailover | undefined;
  let t: TestApp | undefined;
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it.skipIf(skip)(`signs in again once the replica is promoted, without a restart${skipReason}`, { timeout: 60_000 }, async () => {
    redis = await redisFailover();
    t = await createTestApp({ REDIS_URL: redis.url, REDIS_FAILURE_MODE: 'closed' });
    const user = await registerUser(t, { ip: '192.0.2.150' });
    const login = () => t!.request({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password: user.password }, remoteAddress: '192.0.2.151' });
    expect((await login()).statusCode).toBe(200);

    redis.failOver();

    const signedIn = await until(async () => ((await login()).statusCode === 200 ? true : null), 'a sign-in answered 200 after the failover', 20_000);
    expect(signedIn).toBe(true);
  });
});
