// The user id is the first of the issuer's id claims that the token carries (`user_id`, then
// `sub`). A claim that is there but cannot be an id (a number past 2^53, which JSON parsing has
// already rounded, a float, a boolean, an object) must refuse the token: passing over it to the
// next claim signs the user in as whoever that claim names, and two users as one.
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer } from '../helpers/factories.js';

const SECRET = randomBytes(32).toString('hex');
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ EXTERNAL_JWT_SECRET: SECRET, AUTH_CACHE_MS: '0', EXTERNAL_JWT_REQUIRE_EXP: 'false' });
});
afterAll(async () => {
  await t?.close();
});

/** A token as the issuer writes it, its payload raw JSON: numbers past 2^53 stay as written. */
function rawToken(payloadJson: string): string {
  const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(payloadJson).toString('base64url');
  const signature = createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}
const me = (token: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });

describe('an external token whose user id claim is there but is no id', () => {
  it('keeps two users with 64-bit ids apart by refusing both, rather than signing both in as their shared sub', async () => {
    const tag = randomBytes(4).toString('hex');
    const first = await me(rawToken(`{"user_id": 9007199254740993, "sub": "web-${tag}", "username": "first"}`));
    const second = await me(rawToken(`{"user_id": 9007199254740995, "sub": "web-${tag}", "username": "second"}`));
    for (const answer of [first, second]) {
      expect(answer.statusCode, answer.body).toBe(401);
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(json(answer)).toMatchObject({ code: 'invalid_token' });
      expect(json(answer).detail).toMatch(/user_id/);
    }
  });

  it.each([['1.5'], ['true'], ['{"id": 1}'], ['[1]'], ['-1e400']])('refuses user_id %s with 401, and stores no user', async (value) => {
    const before = await t.count('users');
    const answer = await me(rawToken(`{"user_id": ${value}, "sub": "fallback-${randomBytes(4).toString('hex')}", "username": "kinds"}`));
    expect(answer.statusCode, answer.body).toBe(401);
    expect(json(answer).code).toBe('invalid_token');
    expect(await t.count('users')).toBe(before);
  });

  it('still passes over an id claim that is absent, null or empty, and takes a whole-number user_id', async () => {
    const sub = `sub-${randomBytes(4).toString('hex')}`;
    for (const payload of [`{"sub": "${sub}", "username": "a"}`, `{"user_id": null, "sub": "${sub}", "username": "a"}`, `{"user_id": "", "sub": "${sub}", "username": "a"}`]) {
      const answer = await me(rawToken(payload));
      expect(answer.statusCode, `${payload}: ${answer.body}`).toBe(200);
    }
    const numeric = await me(rawToken(`{"user_id": ${Number.parseInt(randomBytes(3).toString('hex'), 16)}, "username": "numeric"}`));
    expect(numeric.statusCode, numeric.body).toBe(200);
  });
});
