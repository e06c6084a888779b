// A refresh that fails spends nothing. The refresh token was rotated in one statement, and the
// session and its user were read in the next ones: a database that failed in between (a restart,
// a dropped connection, a stall) answered 503 with the token already spent. A client retrying
// after the reuse grace (a phone app opened again later) was then told the token was reused,
// and its session was ended for safety. A TCP proxy between Parley and PostgreSQL cuts the
// connection once the rotation has run; PGlite runs inside the process and has no link to cut.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, manualClock, registerUser, type ManualClock } from '../helpers/factories.js';
import { proxiedDatabase, type ProxiedDatabase } from '../helpers/proxied-database.js';

const url = process.env.TEST_DATABASE_URL;

describe.runIf(url)('a refresh whose database fails after the token is rotated', () => {
  let link: ProxiedDatabase;
  let clock: ManualClock;
  let t: TestApp;

  beforeAll(async () => {
    link = await proxiedDatabase(url!, 'refresh_blip');
    clock = manualClock();
    t = await createTestApp({ AUTH_CACHE_MS: '0' }, { database: link.database, clock });
  });
  afterAll(async () => {
    await t?.app.close();
    await link?.close();
  });

  const refresh = (refreshToken: string) => t.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: refreshToken } });

  it('answers 503 and leaves the token usable, also after the reuse grace', { timeout: 30_000 }, async () => {
    const user = await registerUser(t);
    const sessionId = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString()).sid as string;

    // The rotation names the token by its hash; the first statement after it that names the session is cut.
    const hold = link.proxy.holdAnswersAfter(sessionId);
    let failed: Awaited<ReturnType<typeof refresh>>;
    try {
      const refreshing = refresh(user.refreshToken);
      await hold.answered;
      link.proxy.resetAll();
      failed = await refreshing;
    } finally {
      hold.release();
    }
    expect(failed.statusCode).toBe(503);
    expect(json(failed).code).toBe('database_unavailable');

    // Past the grace, a token the client never got a successor for is still its own to use.
    clock.advance(60_000);
    const retried = await refresh(user.refreshToken);
    expect(retried.statusCode, retried.body).toBe(200);
    const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(json(retried).access_token) });
    expect(me.statusCode).toBe(200);
    expect((await refresh(json(retried).refresh_token)).statusCode).toBe(200);
  });
});
