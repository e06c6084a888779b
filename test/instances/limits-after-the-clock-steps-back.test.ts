// A host's clock may be stepped back (NTP or chrony correcting it after a partition heals, a VM
// resumed from a snapshot), and that is when Redis tends to come back too. Shared limits must
// follow Redis, not the wall clock: once Redis answers again they apply again within moments
// (docs/deploy.md: "for the next second limits follow REDIS_FAILURE_MODE at once, and then one
// request tries Redis again").
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { redisUrl, until } from './cluster.js';

const skipRedis = !redisUrl && process.env.CI !== 'true';
const skipReason = skipRedis ? ' (skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379, to run)' : '';
const HOUR_MS = 3_600_000;

describe('shared limits when the clock steps back during a Redis outage (REDIS_FAILURE_MODE=closed)', () => {
  let t: TestApp | undefined;
  let proxy: TcpProxy | undefined;
  afterAll(async () => {
    vi.useRealTimers();
    await t?.close();
    await proxy?.close();
  });

  it.skipIf(skipRedis)(`signs in again once Redis is back, not an hour later${skipReason}`, { timeout: 60_000 }, async () => {
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    const target = new URL(redisUrl);
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
    t = await createTestApp({ REDIS_URL: proxy.url(redisUrl), REDIS_FAILURE_MODE: 'closed' });
    const user = await registerUser(t, { ip: '192.0.2.140' });
    const login = () => t!.request({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password: user.password }, remoteAddress: '192.0.2.141' });

    proxy.refuse(true);
    proxy.resetAll();
    expect((await login()).statusCode).toBe(503);

    // The wall clock goes back an hour and keeps running from there; timers are untouched.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() - HOUR_MS);
    proxy.refuse(false);

    const signedIn = await until(async () => ((await login()).statusCode === 200 ? true : null), 'a sign-in answered 200 once Redis was back', 20_000);
    expect(signedIn).toBe(true);
  });
});
