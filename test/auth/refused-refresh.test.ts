// A refresh refused because its session cannot go on (ended, or its user deactivated) changes
// nothing: the token was not used, so it is not spent either.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, manualClock, registerUser } from '../helpers/factories.js';

const clock = manualClock();
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({}, { clock });
});
afterAll(async () => {
  await t.close();
});

const refresh = (token: string) => t.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: token } });
const setActive = (userId: string, active: boolean) => t.database.sql.query('UPDATE users SET is_active = $2 WHERE id = $1', [userId, active]);

describe('a refresh refused because the session cannot go on', () => {
  it('leaves the session usable once its user is active again', async () => {
    const user = await registerUser(t);
    await setActive(user.id, false);
    // The client keeps trying while the account is deactivated, and keeps the token it holds.
    const refused = await refresh(user.refreshToken);
    expect(refused.statusCode).toBe(401);
    expect(json(refused).code).toBe('invalid_token');

    await setActive(user.id, true);
    clock.advance(60_000);
    const after = await refresh(user.refreshToken);
    expect(after.statusCode, after.body).toBe(200);
    const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(json(after).access_token) });
    expect(me.statusCode).toBe(200);
  });

  it('stores no token for a session that has ended, and says so however often it is asked', async () => {
    const user = await registerUser(t);
    expect((await t.request({ method: 'POST', url: '/v1/auth/logout', headers: bearer(user.accessToken) })).statusCode).toBe(204);
    const before = await t.count('refresh_tokens');
    for (const wait of [0, 60_000]) {
      clock.advance(wait);
      const answer = await refresh(user.refreshToken);
      expect(answer.statusCode).toBe(401);
      expect(json(answer)).toMatchObject({ code: 'invalid_token', detail: 'This session has ended; sign in again' });
    }
    expect(await t.count('refresh_tokens')).toBe(before);
  });
});
