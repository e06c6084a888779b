// A signed-in user changes their password (PUT /v1/auth/password): with the current one, the new
// one signs in and the old one no longer does, and every other session of the account ends at
// once (a leaked password's sessions with it) while the one that made the change goes on. A wrong
// current password changes nothing and counts against the account like a failed sign-in. Signing
// out everywhere (a device lost) ends every session of the account, this one included.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

const SECRET = 'password-change-issuer-secret-0123456789abcdef';
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ EXTERNAL_JWT_SECRET: SECRET, RATE_LIMIT_LOGIN_ACCOUNT: '3/1m', RATE_LIMIT_LOGIN_IP: '1000/1m' });
});
afterAll(async () => {
  await t?.close();
});

const change = (accessToken: string, body: unknown) => t.request({ method: 'PUT', url: '/v1/auth/password', headers: bearer(accessToken), payload: body as object });
const login = (username: string, password: string, ip = '203.0.113.5') =>
  t.request({ method: 'POST', url: '/v1/auth/login', payload: { username, password }, remoteAddress: ip });
const me = (accessToken: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(accessToken) });
const refresh = (refreshToken: string) => t.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: refreshToken } });

async function signedInTwice(): Promise<{ user: RegisteredUser; other: { access: string; refresh: string } }> {
  const user = await registerUser(t);
  const second = await login(user.username, user.password, '127.0.0.1');
  expect(second.statusCode, second.body).toBe(200);
  return { user, other: { access: json(second).access_token, refresh: json(second).refresh_token } };
}

describe('changing the password', () => {
  it('with the current one: the new one signs in, the old one does not, other sessions end at once, this one goes on', async () => {
    const { user, other } = await signedInTwice();
    // The other session was just used, so the session guard remembers it.
    expect((await me(other.access)).statusCode).toBe(200);

    const changed = await change(user.accessToken, { current_password: user.password, new_password: 'a brand new passphrase' });
    expect(changed.statusCode, changed.body).toBe(204);

    expect((await me(user.accessToken)).statusCode).toBe(200);
    expect((await refresh(user.refreshToken)).statusCode).toBe(200);
    const otherMe = await me(other.access);
    expect(otherMe.statusCode).toBe(401);
    expect((await refresh(other.refresh)).statusCode).toBe(401);

    expect((await login(user.username, user.password, '127.0.0.1')).statusCode).toBe(401);
    expect((await login(user.username, 'a brand new passphrase', '127.0.0.1')).statusCode).toBe(200);
  });

  it('with a wrong current password answers 403 wrong_password and changes nothing', async () => {
    const { user, other } = await signedInTwice();
    const refused = await change(user.accessToken, { current_password: 'not the password', new_password: 'a brand new passphrase' });
    expect(refused.statusCode, refused.body).toBe(403);
    expect(json(refused).code).toBe('wrong_password');
    expect((await me(other.access)).statusCode).toBe(200);
    expect((await login(user.username, user.password, '127.0.0.1')).statusCode).toBe(200);
    expect((await login(user.username, 'a brand new passphrase', '127.0.0.1')).statusCode).toBe(401);
  });

  it('counts wrong guesses against the account: a stolen access token cannot try passwords unmetered', async () => {
    const user = await registerUser(t);
    const stored = async () => (await t.database.sql.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [user.id]))[0]!.password_hash;
    const before = await stored();
    const statuses = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push((await change(user.accessToken, { current_password: `guess number ${i}`, new_password: 'a brand new passphrase' })).statusCode);
    }
    expect(statuses).toEqual([403, 403, 403, 429]);
    const held = await change(user.accessToken, { current_password: user.password, new_password: 'a brand new passphrase' });
    expect(held.statusCode).toBe(429);
    expect(held.headers['retry-after']).toBeDefined();
    // The guesses count at sign-in too, and the password held.
    expect((await login(user.username, user.password, '198.51.100.9')).statusCode).toBe(429);
    expect(await stored()).toBe(before);
  });

  it('refuses a new password outside 8–256 characters (422) and an unknown field, with nothing changed', async () => {
    const user = await registerUser(t);
    for (const body of [
      { current_password: user.password, new_password: 'short' },
      { current_password: user.password, new_password: 'x'.repeat(257) },
      { current_password: user.password },
      { current_password: user.password, new_password: 'a brand new passphrase', logout_others: false },
    ]) {
      const response = await change(user.accessToken, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(422);
      expect(json(response).code).toBe('validation_failed');
    }
    expect((await login(user.username, user.password, '127.0.0.1')).statusCode).toBe(200);
  });

  it('is not for an external issuer\'s user (403, their password is their issuer\'s) nor without a token (401)', async () => {
    const token = await new SignJWT({ sub: 'ext-42', username: 'outside_user' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    const external = await change(token, { current_password: 'whatever it is', new_password: 'a brand new passphrase' });
    expect(external.statusCode, external.body).toBe(403);
    expect(json(external).code).toBe('forbidden');
    const anonymous = await t.request({ method: 'PUT', url: '/v1/auth/password', payload: { current_password: 'whatever it is', new_password: 'a brand new passphrase' } });
    expect(anonymous.statusCode).toBe(401);
  });
});

describe('signing out everywhere', () => {
  it('POST /v1/auth/logout {"everywhere": true} ends this session and every other one of the account at once', async () => {
    const { user, other } = await signedInTwice();
    const bystander = await registerUser(t);
    expect((await me(other.access)).statusCode).toBe(200);
    const out = await t.request({ method: 'POST', url: '/v1/auth/logout', headers: bearer(user.accessToken), payload: { everywhere: true } });
    expect(out.statusCode, out.body).toBe(204);
    for (const access of [user.accessToken, other.access]) expect((await me(access)).statusCode).toBe(401);
    for (const token of [user.refreshToken, other.refresh]) expect((await refresh(token)).statusCode).toBe(401);
    // Another account's session is not touched, and the password still signs in.
    expect((await me(bystander.accessToken)).statusCode).toBe(200);
    expect((await login(user.username, user.password, '127.0.0.1')).statusCode).toBe(200);
  });

  it('without it, or with false, ends this session only', async () => {
    const { user, other } = await signedInTwice();
    const out = await t.request({ method: 'POST', url: '/v1/auth/logout', headers: bearer(user.accessToken), payload: { everywhere: false } });
    expect(out.statusCode, out.body).toBe(204);
    expect((await me(user.accessToken)).statusCode).toBe(401);
    expect((await me(other.access)).statusCode).toBe(200);
  });
});
