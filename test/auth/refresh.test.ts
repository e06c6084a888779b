import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, manualClock, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const refresh = (payload: unknown, app: TestApp = t) => app.request({ method: 'POST', url: '/v1/auth/refresh', payload: payload as object });
const refreshWith = (token: string, app: TestApp = t) => refresh({ refresh_token: token }, app);
const meWith = (token: string, app: TestApp = t) => app.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });

/** Refreshes and insists on success; returns the new pair. */
async function rotate(token: string, app: TestApp = t): Promise<{ access: string; refresh: string }> {
  const response = await refreshWith(token, app);
  expect(response.statusCode, response.body).toBe(200);
  const body = json(response);
  return { access: body.access_token, refresh: body.refresh_token };
}

describe('POST /v1/auth/refresh', () => {
  it('exchanges a refresh token for a new pair whose access token works', async () => {
    const user = await registerUser(t);
    const response = await refreshWith(user.refreshToken);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = json(response);
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 900, user: { id: user.id, username: user.username } });
    expect(body.refresh_token).toMatch(/^prt_[A-Za-z0-9_-]{43}$/);
    expect(body.refresh_token).not.toBe(user.refreshToken);
    expect(typeof body.access_token).toBe('string');
    const me = await meWith(body.access_token);
    expect(me.statusCode).toBe(200);
    expect(json(me).id).toBe(user.id);
  });

  describe('with no reuse grace', () => {
    const clock = manualClock();
    let strict: TestApp;
    beforeAll(async () => {
      strict = await createTestApp({ REFRESH_REUSE_GRACE: '0' }, { clock });
    });
    afterAll(async () => {
      await strict.close();
    });

    it('treats a rotated refresh token presented again as reuse and revokes the whole family', async () => {
      const user = await registerUser(strict);
      const b = await rotate(user.refreshToken, strict);
      // B's access token works (and any cached answer about the session is now fresh).
      expect((await meWith(b.access, strict)).statusCode).toBe(200);
      // The clock moves past the rotation instant.
      clock.advance(20);

      const reused = await refreshWith(user.refreshToken, strict);
      expect(reused.statusCode).toBe(401);
      expect(reused.headers['www-authenticate']).toBe('Bearer');
      expect(json(reused).code).toBe('refresh_token_reused');

      const afterwards = await refreshWith(b.refresh, strict);
      expect(afterwards.statusCode).toBe(401);
      expect((await meWith(b.access, strict)).statusCode).toBe(401);
      expect((await meWith(user.accessToken, strict)).statusCode).toBe(401);
    });

    it('leaves the other sessions of the user alone when one family is revoked', async () => {
      const user = await registerUser(strict);
      const login = await strict.request({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password: user.password } });
      expect(login.statusCode).toBe(200);
      await rotate(user.refreshToken, strict);
      clock.advance(20);
      expect(json(await refreshWith(user.refreshToken, strict)).code).toBe('refresh_token_reused');
      expect((await meWith(json(login).access_token, strict)).statusCode).toBe(200);
      await rotate(json(login).refresh_token, strict);
    });
  });

  it('within the grace, answers a just-rotated token again with the same pair (two tabs)', async () => {
    const user = await registerUser(t);
    const b = await rotate(user.refreshToken);
    const c = await rotate(user.refreshToken);
    expect(c.refresh).toBe(b.refresh);
    expect((await meWith(b.access)).statusCode).toBe(200);
    expect((await meWith(c.access)).statusCode).toBe(200);
    // Either tab refreshing next keeps the session going.
    const next = await rotate(c.refresh);
    expect((await meWith(next.access)).statusCode).toBe(200);
  });

  it('lets two simultaneous refreshes with the same token both succeed without logging the user out', async () => {
    const user = await registerUser(t);
    const [first, second] = await Promise.all([refreshWith(user.refreshToken), refreshWith(user.refreshToken)]);
    expect(first!.statusCode, first!.body).toBe(200);
    expect(second!.statusCode, second!.body).toBe(200);
    const one = json(first!);
    const two = json(second!);
    expect(one.refresh_token).toBe(two.refresh_token);
    expect((await meWith(one.access_token)).statusCode).toBe(200);
    expect((await meWith(two.access_token)).statusCode).toBe(200);
    const next = await Promise.all([rotate(one.refresh_token), rotate(two.refresh_token)]);
    expect(next[0]!.refresh).toBe(next[1]!.refresh);
    for (const pair of next) expect((await meWith(pair.access)).statusCode).toBe(200);
  });

  it('refuses an unknown but well-formed refresh token with 401 invalid_token', async () => {
    const response = await refreshWith(`prt_${randomBytes(32).toString('base64url')}`);
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(json(response).code).toBe('invalid_token');
  });

  it.each([['garbage'], ['prt_short'], ['not a token at all, with spaces'], ['eyJhbGciOiJIUzI1NiJ9.e30.x']])(
    'refuses the malformed refresh token %j with 401',
    async (token) => {
      const response = await refreshWith(token);
      expect(response.statusCode).toBe(401);
      expect(json(response).code).toBe('invalid_token');
    },
  );

  it('refuses an access token presented as a refresh token', async () => {
    const user = await registerUser(t);
    const response = await refreshWith(user.accessToken);
    expect(response.statusCode).toBe(401);
  });

  it.each<[string, unknown]>([
    ['an empty string', { refresh_token: '' }],
    ['no refresh_token', {}],
    ['an unknown extra field', { refresh_token: 'prt_placeholder', extra: 1 }],
    ['a number instead of a string', { refresh_token: 12345 }],
    ['null', { refresh_token: null }],
  ])('answers 422 validation_failed to %s', async (_label, payload) => {
    const user = await registerUser(t);
    const body = payload as Record<string, unknown>;
    // The extra-field case carries a real token: it must still be refused for the unknown field.
    if (body.refresh_token === 'prt_placeholder') body.refresh_token = user.refreshToken;
    const response = await refresh(body);
    expect(response.statusCode, response.body).toBe(422);
    expect(json(response).code).toBe('validation_failed');
    // Nothing was consumed: the user's token still works.
    await rotate(user.refreshToken);
  });

  it('refuses the refresh token of a session that logged out', async () => {
    const user = await registerUser(t);
    const logout = await t.request({ method: 'POST', url: '/v1/auth/logout', headers: bearer(user.accessToken) });
    expect(logout.statusCode).toBe(204);
    const response = await refreshWith(user.refreshToken);
    expect(response.statusCode).toBe(401);
    expect(json(response).code).toBe('invalid_token');
  });

  it('refuses the refresh token of a deactivated user', async () => {
    const user = await registerUser(t);
    const other = await registerUser(t);
    await t.database.sql.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
    const response = await refreshWith(user.refreshToken);
    expect(response.statusCode).toBe(401);
    expect(json(response).code).toBe('invalid_token');
    await rotate(other.refreshToken);
  });

  describe('with a one-second refresh token lifetime', () => {
    const clock = manualClock();
    let brief: TestApp;
    beforeAll(async () => {
      brief = await createTestApp({ REFRESH_TOKEN_TTL: '1s' }, { clock });
    });
    afterAll(async () => {
      await brief.close();
    });

    it('refuses an expired refresh token with 401', async () => {
      const user = await registerUser(brief);
      // A fresh token from the same app still works, so only age is at fault below.
      const control = await registerUser(brief);
      await rotate(control.refreshToken, brief);

      clock.advance(1_200);
      const response = await refreshWith(user.refreshToken, brief);
      expect(response.statusCode).toBe(401);
      expect(json(response).code).toBe('invalid_token');
    });
  });
});

describe('POST /v1/auth/logout', () => {
  const logout = (headers: Record<string, string>, payload?: unknown) =>
    t.request({ method: 'POST', url: '/v1/auth/logout', headers, ...(payload === undefined ? {} : { payload: payload as object }) });

  it('answers 204 with no body when no body is sent, and ends the session', async () => {
    const user = await registerUser(t);
    const response = await logout(bearer(user.accessToken));
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect((await meWith(user.accessToken)).statusCode).toBe(401);
  });

  it('answers 204 to an empty JSON object', async () => {
    const user = await registerUser(t);
    const response = await logout(bearer(user.accessToken), {});
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect((await meWith(user.accessToken)).statusCode).toBe(401);
  });

  it('answers 422 to an unknown field and does not end the session', async () => {
    const user = await registerUser(t);
    const response = await logout(bearer(user.accessToken), { x: 1 });
    expect(response.statusCode).toBe(422);
    expect(json(response).code).toBe('validation_failed');
    expect((await meWith(user.accessToken)).statusCode).toBe(200);
    await rotate(user.refreshToken);
  });

  it('answers 401 without an access token', async () => {
    const response = await logout({});
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(json(response).code).toBe('unauthorized');
  });

  it('answers 401 to a second logout with the same token', async () => {
    const user = await registerUser(t);
    expect((await logout(bearer(user.accessToken))).statusCode).toBe(204);
    expect((await logout(bearer(user.accessToken))).statusCode).toBe(401);
  });
});
