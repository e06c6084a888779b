// A host's wall clock may be stepped (NTP or chrony correcting it after a partition heals, a VM
// resumed from a snapshot). What Parley waits for must not move with it: a logout made while
// Redis is away waits for the other instances' session checks to lapse (AUTH_CACHE_MS). Timed on
// the wall clock, a step back of an hour made the logout answer an hour later.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { redisUrl } from './cluster.js';

const skipRedis = !redisUrl && process.env.CI !== 'true';
const skipReason = skipRedis ? ' (skipped: set TEST_REDIS_URL, e.g. redis://127.0.0.1:6379, to run)' : '';
const HOUR_MS = 3_600_000;

/** The wall clock goes back an hour and keeps running from there; timers are untouched. */
function stepBack() {
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  vi.setSystemTime(Date.now() - HOUR_MS);
}

/** `promise`, or 'still waiting' once `ms` have passed (timers are real). */
const within = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), ms).unref())]);

let t: TestApp | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await t?.close();
  await proxy?.close();
  t = proxy = undefined;
});

describe('the wall clock stepped back an hour', () => {
  it.skipIf(skipRedis)(`during a logout while Redis does not answer: answered once AUTH_CACHE_MS has passed, not an hour later${skipReason}`, { timeout: 60_000 }, async () => {
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    const target = new URL(redisUrl);
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
    t = await createTestApp({ REDIS_URL: proxy.url(redisUrl), AUTH_CACHE_MS: '2000' });
    const user = await registerUser(t);

    // Redis takes the publish and never answers: it fails after its one-second timeout.
    proxy.stall(true);
    const logout = t.request({ method: 'POST', url: '/v1/auth/logout', headers: { authorization: `Bearer ${user.accessToken}` }, payload: {} });
    await new Promise((resolve) => setTimeout(resolve, 300));
    stepBack();

    const answered = await within(logout, 15_000);
    expect(answered === 'still waiting' ? answered : answered.statusCode).toBe(204);
  });

});
