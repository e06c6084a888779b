// Identity claims PostgreSQL cannot store as sent: U+0000 (refused by text columns) and lone
// surrogates (stored as U+FFFD, so ids differing only there would become one user). Such an id or
// username is a bad token (401 naming the claim); such an email is dropped.
import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer } from '../helpers/factories.js';

const SECRET = randomBytes(32).toString('hex');
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ EXTERNAL_JWT_SECRET: SECRET, AUTH_CACHE_MS: '0' });
});
afterAll(async () => {
  await t?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const sign = (payload: JWTPayload) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(now() + 600).sign(new TextEncoder().encode(SECRET));
const id = () => `ext_${randomBytes(5).toString('hex')}`;

describe('an external token whose identity claims hold U+0000', () => {
  it.each([
    ['username', () => ({ user_id: id(), username: 'mallory\u0000admin' })],
    ['user_id', () => ({ user_id: `${id()}\u0000`, username: 'nul_in_id' })],
  ])('in %s answers a 4xx problem (401 invalid_token), never a 500, and creates no user', async (_claim, claims) => {
    const users = await t.count('users');
    const answer = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await sign(claims())) });
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer.statusCode, answer.body).toBe(401);
    expect(json(answer).code).toBe('invalid_token');
    expect(await t.count('users')).toBe(users);
    expect((await t.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('in the optional email claim is answered without a 500 (the email is dropped, as an over-long one is, or the token refused)', async () => {
    const answer = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await sign({ user_id: id(), username: 'nul_in_email', email: 'm\u0000@example.com' })) });
    expect([200, 401], answer.body).toContain(answer.statusCode);
    if (answer.statusCode === 200) expect(json(answer).email).toBeNull();
  });

  it('never takes two different external user ids for one account (lone surrogates are stored as U+FFFD)', async () => {
    const base = id();
    const first = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await sign({ user_id: `${base}\ud800`, username: 'alice_ext' })) });
    const second = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await sign({ user_id: `${base}\udc00`, username: 'mallory_ext' })) });
    // Refused, never two external users signed in as one account.
    for (const answer of [first, second]) {
      expect(answer.statusCode, answer.body).toBe(401);
      expect(json(answer)).toMatchObject({ code: 'invalid_token' });
      expect(json(answer).detail).toMatch(/user_id/);
    }
  });
});
