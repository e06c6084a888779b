// Each refresh keeps the token it spends (reuse detection needs it), so a client refreshing in a
// loop grew refresh_tokens by about 90 rows a second, for good. Refreshes are counted per session
// (RATE_LIMIT_REFRESH_SESSION); a refused one spends nothing, and other sessions go on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_REFRESH_SESSION: '3/1m' });
});
afterAll(async () => {
  await t.close();
});

const refresh = (token: string) => t.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: token } });
const tokenGrant = (token: string) =>
  t.request({
    method: 'POST',
    url: '/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`,
  });

describe('refreshes of one session', () => {
  it('are limited, a refused one stores nothing, and another session is not held by it', async () => {
    const user = await registerUser(t);
    let token = user.refreshToken;
    for (let i = 0; i < 3; i++) {
      const answer = i % 2 === 0 ? await refresh(token) : await tokenGrant(token);
      expect(answer.statusCode, answer.body).toBe(200);
      token = json(answer).refresh_token;
    }
    const rows = await t.count('refresh_tokens');
    for (const send of [refresh, tokenGrant]) {
      const refused = await send(token);
      expect(refused.statusCode).toBe(429);
      expect(json(refused).code).toBe('rate_limited');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.headers['ratelimit-policy']).toContain('"refresh_session"');
    }
    expect(await t.count('refresh_tokens')).toBe(rows);

    // The same user's other session (another device) refreshes as usual.
    const login = await t.request({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password: user.password } });
    const other = await refresh(json(login).refresh_token);
    expect(other.statusCode, other.body).toBe(200);
    // And the limited session's access token still works.
    expect((await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(user.accessToken) })).statusCode).toBe(200);
  });
});
