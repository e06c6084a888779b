import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const me = (headers: Record<string, string> = {}, app: TestApp = t) => app.request({ method: 'GET', url: '/v1/auth/me', headers });
const meWith = (token: string, app: TestApp = t) => me(bearer(token), app);

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The payload of a JWT, read without verifying it (as any holder of the token can). */
function payloadOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) throw new Error(`not a JWT: ${token}`);
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

const sessionIdOf = (user: RegisteredUser) => {
  const sid = payloadOf(user.accessToken).sid;
  if (typeof sid !== 'string') throw new Error('access token carries no sid');
  return sid;
};

const nowSeconds = () => Math.floor(Date.now() / 1000);

interface Forge {
  /** Claims of the payload; `undefined` values are left out. */
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  alg?: 'HS256' | 'HS384' | 'HS512';
  secret?: string;
}

/** Signs an access token by hand; by default exactly as the app signs one for `user`'s session. */
async function forge(user: RegisteredUser, options: Forge = {}): Promise<string> {
  const now = nowSeconds();
  const claims: Record<string, unknown> = {
    sub: user.id,
    sid: sessionIdOf(user),
    typ: 'access',
    iss: 'parley',
    aud: 'parley-api',
    iat: now,
    exp: now + 600,
    ...options.claims,
  };
  for (const [key, value] of Object.entries(claims)) if (value === undefined) delete claims[key];
  const alg = options.alg ?? 'HS256';
  return new SignJWT(claims)
    .setProtectedHeader({ typ: 'at+jwt', ...options.header, alg })
    .sign(new TextEncoder().encode(options.secret ?? t.config.jwtSecret));
}

function expectRefused(response: Awaited<ReturnType<typeof me>>, code = 'invalid_token') {
  expect(response.statusCode, response.body).toBe(401);
  expect(response.headers['www-authenticate']).toBe('Bearer');
  expect(json(response).code).toBe(code);
}

describe('GET /v1/auth/me without a usable Authorization header', () => {
  it('answers 401 unauthorized with WWW-Authenticate: Bearer when no token is sent', async () => {
    const response = await me();
    expectRefused(response, 'unauthorized');
  });

  it.each([['Basic x'], ['Bearer'], ['Bearer '], ['Token abc.def.ghi']])('answers 401 to the malformed header %j', async (authorization) => {
    const user = await registerUser(t);
    // The same header with the user's real token is accepted, so only the shape is at fault.
    expect((await meWith(user.accessToken)).statusCode).toBe(200);
    const response = await me({ authorization });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(json(response).code).toBe('unauthorized');
  });

  it('does not take the token from a Basic header that carries a real access token', async () => {
    const user = await registerUser(t);
    expect((await me({ authorization: `Basic ${user.accessToken}` })).statusCode).toBe(401);
  });
});

describe('forged access tokens', () => {
  it('accepts a hand-made token with exactly the claims the app signs (the baseline the attacks start from)', async () => {
    const user = await registerUser(t);
    const response = await meWith(await forge(user));
    expect(response.statusCode, response.body).toBe(200);
    expect(json(response).id).toBe(user.id);
  });

  it('refuses alg "none" (an unsigned token) with 401 invalid_token', async () => {
    const user = await registerUser(t);
    const now = nowSeconds();
    const payload = { sub: user.id, sid: sessionIdOf(user), typ: 'access', iss: 'parley', aud: 'parley-api', iat: now, exp: now + 600 };
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64url({ alg, typ: 'at+jwt' })}.${b64url(payload)}.`;
      expectRefused(await meWith(token));
    }
    // The same payload with a real signature is accepted.
    expect((await meWith(await forge(user, { claims: payload }))).statusCode).toBe(200);
  });

  it('refuses a token signed HS256 with another secret', async () => {
    const user = await registerUser(t);
    const token = await forge(user, { secret: randomBytes(48).toString('base64url') });
    expectRefused(await meWith(token));
  });

  it('refuses the real signature grafted onto a changed payload', async () => {
    const a = await registerUser(t);
    const b = await registerUser(t);
    const [header, , signature] = a.accessToken.split('.');
    const payload = { ...payloadOf(a.accessToken), sub: b.id, sid: sessionIdOf(b) };
    expectRefused(await meWith(`${header}.${b64url(payload)}.${signature}`));
  });

  it('refuses an expired token signed with the real secret, and accepts the same token with a future exp', async () => {
    const user = await registerUser(t);
    const now = nowSeconds();
    // 60 s in the past: far beyond the 5 s clock tolerance.
    const expired = await forge(user, { claims: { iat: now - 960, exp: now - 60 } });
    const fresh = await forge(user, { claims: { iat: now - 960, exp: now + 60 } });
    expectRefused(await meWith(expired));
    const ok = await meWith(fresh);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(json(ok).id).toBe(user.id);
  });

  it.each<[string, Forge]>([
    ['a wrong iss', { claims: { iss: 'someone-else' } }],
    ['no iss', { claims: { iss: undefined } }],
    ['a wrong aud', { claims: { aud: 'another-api' } }],
    ['no aud', { claims: { aud: undefined } }],
    ['no sid', { claims: { sid: undefined } }],
    ['a sid that is not a UUID', { claims: { sid: 'not-a-session' } }],
    ['no sub', { claims: { sub: undefined } }],
    ['no exp', { claims: { exp: undefined } }],
    ['header typ "JWT" instead of "at+jwt"', { header: { typ: 'JWT' } }],
    ['no header typ', { header: { typ: undefined } }],
    ['claim typ "refresh"', { claims: { typ: 'refresh' } }],
    ['no claim typ', { claims: { typ: undefined } }],
  ])('refuses a token with %s (otherwise valid) with 401', async (_label, mutation) => {
    const user = await registerUser(t);
    expect((await meWith(await forge(user))).statusCode).toBe(200);
    const token = await forge(user, mutation);
    expectRefused(await meWith(token));
  });

  it.each([['HS384' as const], ['HS512' as const]])('pins the algorithm: %s with the right secret is refused', async (alg) => {
    const user = await registerUser(t);
    expectRefused(await meWith(await forge(user, { alg })));
  });

  it('refuses a refresh token presented as an access token', async () => {
    const user = await registerUser(t);
    expect(user.refreshToken).toMatch(/^prt_/);
    expectRefused(await meWith(user.refreshToken));
    // ...and the refresh token is still usable for what it is for.
    const refreshed = await t.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: user.refreshToken } });
    expect(refreshed.statusCode).toBe(200);
  });

  it("refuses a validly signed token that names user A with user B's session", async () => {
    const a = await registerUser(t);
    const b = await registerUser(t);
    expect((await meWith(a.accessToken)).statusCode).toBe(200);
    const token = await forge(a, { claims: { sub: a.id, sid: sessionIdOf(b) } });
    expectRefused(await meWith(token));
  });

  it("refuses user A's token on user B's session even while B's session was just checked (cached)", async () => {
    const a = await registerUser(t);
    const b = await registerUser(t);
    // Both sessions are live, and a token of B's own session passes (and is remembered).
    expect((await meWith(await forge(b))).statusCode).toBe(200);
    expect((await meWith(a.accessToken)).statusCode).toBe(200);
    const token = await forge(a, { claims: { sub: a.id, sid: sessionIdOf(b) } });
    expectRefused(await meWith(token));
  });

  it('refuses a validly signed token for a session id that does not exist', async () => {
    const user = await registerUser(t);
    const sid = sessionIdOf(user);
    const other = `${sid.slice(0, -4)}${sid.endsWith('0000') ? 'ffff' : '0000'}`;
    expectRefused(await meWith(await forge(user, { claims: { sid: other } })));
  });
});

describe('ended sessions', () => {
  it('refuses the access token at once after logout, while other sessions of the user keep working', async () => {
    const user = await registerUser(t);
    const login = await t.request({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password: user.password } });
    expect(login.statusCode).toBe(200);
    const other = json(login).access_token as string;
    expect(payloadOf(other).sid).not.toBe(sessionIdOf(user));

    // Used just before logout, so any cached answer about the session is fresh.
    expect((await meWith(user.accessToken)).statusCode).toBe(200);
    const logout = await t.request({ method: 'POST', url: '/v1/auth/logout', headers: bearer(user.accessToken) });
    expect(logout.statusCode).toBe(204);

    expectRefused(await meWith(user.accessToken));
    const still = await meWith(other);
    expect(still.statusCode).toBe(200);
    expect(json(still).id).toBe(user.id);
  });

  it('refuses a deactivated user on the very next request when session checks are not cached', async () => {
    const uncached = await createTestApp({ AUTH_CACHE_MS: '0' });
    try {
      const user = await registerUser(uncached);
      expect((await meWith(user.accessToken, uncached)).statusCode).toBe(200);
      await uncached.database.sql.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
      expectRefused(await meWith(user.accessToken, uncached));
    } finally {
      await uncached.close();
    }
  });

  it('refuses a deactivated user within a few seconds with the default session cache', async () => {
    expect(t.config.authCacheMs).toBeGreaterThan(0);
    const user = await registerUser(t);
    const bystander = await registerUser(t);
    expect((await meWith(user.accessToken)).statusCode).toBe(200);
    await t.database.sql.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);

    const deadline = Date.now() + 3_000;
    let response = await meWith(user.accessToken);
    while (response.statusCode === 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      response = await meWith(user.accessToken);
    }
    expectRefused(response);
    expect((await meWith(bystander.accessToken)).statusCode).toBe(200);
  });
});
