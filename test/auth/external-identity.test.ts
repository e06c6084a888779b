// Users of another system call Parley with that system's JWT (§3.2): HS256 shared secret
// (the seeds' setup) and the Supabase preset, side by side with local accounts.
import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/cli-token.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';

const SECRET = randomBytes(32).toString('hex');
const SUPABASE_SECRET = randomBytes(32).toString('hex');
const SUPABASE_URL = 'https://project.supabase.co';
const ENV = { EXTERNAL_JWT_SECRET: SECRET, SUPABASE_JWT_SECRET: SUPABASE_SECRET, SUPABASE_URL, AUTH_CACHE_MS: '0' };

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp(ENV);
});
afterAll(async () => {
  await t?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const uniqueId = () => `ext_${randomBytes(5).toString('hex')}`;

function sign(payload: JWTPayload, options: { secret?: string; alg?: string; exp?: number | null } = {}) {
  const jwt = new SignJWT(payload).setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' }).setIssuedAt();
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now() + 3600);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
}

const me = (token: string, app: TestApp = t) => app.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });

async function externalUsers(externalId: string, issuer = 'external') {
  return t.database.sql.query<{ id: string; username: string }>('SELECT id, username FROM users WHERE issuer = $1 AND external_id = $2', [issuer, externalId]);
}

describe('an external HS256 issuer (EXTERNAL_JWT_SECRET)', () => {
  it('accepts a token from `parley token`: the user is created, can chat, and /me shows them', async () => {
    const id = uniqueId();
    const token = await mintToken(['--user-id', id, '--username', 'john_doe'], { EXTERNAL_JWT_SECRET: SECRET });
    const who = await me(token);
    expect(who.statusCode, who.body).toBe(200);
    expect(json(who)).toMatchObject({ username: 'john_doe', issuer: 'external', role: 'user', is_active: true });
    const chat = await t.request({ method: 'POST', url: '/v1/chat', headers: bearer(token), payload: { message: 'hello' } });
    expect(chat.statusCode, chat.body).toBe(201);
    const list = await t.request({ method: 'GET', url: '/v1/conversations', headers: bearer(token) });
    expect(json(list).data).toHaveLength(1);
    expect(t.logs.join('')).toContain('external user created');
    expect(t.logs.join('')).toContain(id);
    expect(t.logs.join('')).not.toContain(token.split('.')[2]!);
  });

  it('accepts a token made by jsonwebtoken exactly as the seed main system does, with a numeric user_id', async () => {
    const userId = Number.parseInt(randomBytes(3).toString('hex'), 16);
    const token = jsonwebtoken.sign({ user_id: userId, username: 'numeric_user' }, SECRET, { algorithm: 'HS256', expiresIn: '24h' });
    const who = await me(token);
    expect(who.statusCode, who.body).toBe(200);
    expect(await externalUsers(String(userId))).toHaveLength(1);
  });

  it('updates the username when the claim changes, keeping the same user', async () => {
    const id = uniqueId();
    const first = json(await me(await sign({ user_id: id, username: 'before' })));
    const second = json(await me(await sign({ user_id: id, username: 'after' })));
    expect(second.id).toBe(first.id);
    expect(second.username).toBe('after');
    expect(t.logs.join('')).toContain('external user updated');
  });

  it('creates exactly one user for 20 concurrent first requests with one new token', async () => {
    const id = uniqueId();
    const token = await sign({ user_id: id, username: 'crowd' });
    const answers = await Promise.all(Array.from({ length: 20 }, () => me(token)));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((a) => json(a).id)).size).toBe(1);
    expect(await externalUsers(id)).toHaveLength(1);
  });

  it('never merges an external user into a local account with the same name or email', async () => {
    const local = await registerUser(t, { email: 'same@example.com' });
    const who = json(await me(await sign({ user_id: uniqueId(), username: local.username, email: 'same@example.com' })));
    expect(who.id).not.toBe(local.id);
    expect(who.issuer).toBe('external');
    expect(json(await me(local.accessToken)).id).toBe(local.id);
  });

  it('refuses forged, expired, early and incomplete tokens with 401 invalid_token', async () => {
    const id = uniqueId();
    const cases: Array<[string, string | Promise<string>]> = [
      ['alg none', `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ user_id: id, username: 'x', exp: now() + 60 })).toString('base64url')}.`],
      ['another secret', sign({ user_id: id, username: 'x' }, { secret: randomBytes(32).toString('hex') })],
      ['expired', sign({ user_id: id, username: 'x' }, { exp: now() - 3600 })],
      ['no exp', sign({ user_id: id, username: 'x' }, { exp: null })],
      ['not yet valid', sign({ user_id: id, username: 'x', nbf: now() + 3600 })],
      ['HS512', sign({ user_id: id, username: 'x' }, { alg: 'HS512' })],
      ['no user id', sign({ username: 'x' })],
      ['no username', sign({ user_id: id })],
      ['garbage', 'not.a.jwt'],
    ];
    for (const [name, token] of cases) {
      const answer = await me(await token);
      expect(answer.statusCode, name).toBe(401);
      expect(json(answer).code, name).toBe('invalid_token');
    }
    expect(json(await me(await sign({ username: 'x' }))).detail).toMatch(/user_id or sub/);
    expect(json(await me(await sign({ user_id: id }))).detail).toMatch(/username/);
    expect(await externalUsers(id)).toHaveLength(0);
  });

  it('refuses a token naming a critical header extension it does not understand', async () => {
    const id = uniqueId();
    const token = await new SignJWT({ user_id: id, username: 'critical' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', crit: ['urn:example:policy'], 'urn:example:policy': 'strict' })
      .setExpirationTime(now() + 3600)
      .sign(new TextEncoder().encode(SECRET), { crit: { 'urn:example:policy': true } });
    const answer = await me(token);
    expect(answer.statusCode, answer.body).toBe(401);
    expect(json(answer).code).toBe('invalid_token');
    expect(await externalUsers(id)).toHaveLength(0);
  });

  it('answers 401, never 500, to a token whose header is not JSON', async () => {
    const payload = Buffer.from(JSON.stringify({ user_id: uniqueId(), username: 'x', exp: now() + 60 })).toString('base64url');
    for (const header of ['not json', '[1,2]', '"alg"']) {
      const answer = await me(`${Buffer.from(header).toString('base64url')}.${payload}.c2lnbmF0dXJl`);
      expect(answer.statusCode, header).toBe(401);
      expect(json(answer).code, header).toBe('invalid_token');
    }
  });

  it('accepts tokens without exp when EXTERNAL_JWT_REQUIRE_EXP=false (the seeds\' test tokens)', async () => {
    const relaxed = await createTestApp({ EXTERNAL_JWT_SECRET: SECRET, EXTERNAL_JWT_REQUIRE_EXP: 'false' }, { sharedWith: t });
    try {
      expect((await me(await sign({ user_id: uniqueId(), username: 'testuser' }, { exp: null }), relaxed)).statusCode).toBe(200);
    } finally {
      await relaxed.close();
    }
  });

  it('checks iss and aud when configured', async () => {
    const strict = await createTestApp({ EXTERNAL_JWT_SECRET: SECRET, EXTERNAL_JWT_ISSUER: 'main-system', EXTERNAL_JWT_AUDIENCE: 'parley' }, { sharedWith: t });
    try {
      const good = await sign({ user_id: uniqueId(), username: 'aud_ok', iss: 'main-system', aud: 'parley' });
      expect((await me(good, strict)).statusCode).toBe(200);
      for (const payload of [{ iss: 'main-system' }, { iss: 'main-system', aud: 'other' }, { iss: 'elsewhere', aud: 'parley' }]) {
        expect((await me(await sign({ user_id: uniqueId(), username: 'aud_bad', ...payload }), strict)).statusCode).toBe(401);
      }
    } finally {
      await strict.close();
    }
  });

  it('refuses a deactivated external user on the next request', async () => {
    const id = uniqueId();
    const token = await sign({ user_id: id, username: 'soon_gone' });
    expect((await me(token)).statusCode).toBe(200);
    await t.database.sql.query("UPDATE users SET is_active = false WHERE issuer = 'external' AND external_id = $1", [id]);
    expect((await me(token)).statusCode).toBe(401);
  });

  it('keeps external users apart from each other and from local accounts (404 on their conversations)', async () => {
    const local = await registerUser(t);
    const conversation = json(await t.request({ method: 'POST', url: '/v1/conversations', headers: bearer(local.accessToken), payload: {} }));
    const outsider = await sign({ user_id: uniqueId(), username: 'outsider' });
    expect((await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}`, headers: bearer(outsider) })).statusCode).toBe(404);
  });

  it('lets an external user log out (nothing to end here) without breaking anything', async () => {
    const token = await sign({ user_id: uniqueId(), username: 'leaver' });
    expect((await t.request({ method: 'POST', url: '/v1/auth/logout', headers: bearer(token) })).statusCode).toBe(204);
  });
});

describe('the Supabase preset (SUPABASE_JWT_SECRET)', () => {
  const supabase = (payload: JWTPayload) => sign({ iss: `${SUPABASE_URL}/auth/v1`, ...payload }, { secret: SUPABASE_SECRET });

  it('maps sub to the user id and email to the username', async () => {
    const sub = randomBytes(16).toString('hex');
    const who = await me(await supabase({ sub, email: 'ana@example.com', aud: 'authenticated', role: 'authenticated' }));
    expect(who.statusCode, who.body).toBe(200);
    expect(json(who)).toMatchObject({ username: 'ana@example.com', issuer: 'supabase' });
  });

  it('refuses anon and service keys (no sub, or another audience)', async () => {
    expect((await me(await supabase({ role: 'anon', aud: 'authenticated', email: 'x@example.com' }))).statusCode).toBe(401);
    expect((await me(await supabase({ sub: 'abc', role: 'service_role', aud: 'service', email: 'x@example.com' }))).statusCode).toBe(401);
  });

  it('treats the same sub from two issuers as two users', async () => {
    const id = uniqueId();
    const a = json(await me(await sign({ sub: id, username: 'twin' })));
    const b = json(await me(await supabase({ sub: id, email: 'twin@example.com', aud: 'authenticated' })));
    expect(a.id).not.toBe(b.id);
    expect([a.issuer, b.issuer]).toEqual(['external', 'supabase']);
  });

  it('keeps the same sub of two issuers apart on their later requests too', async () => {
    const id = uniqueId();
    const external = await sign({ sub: id, username: 'twin_again' });
    const project = await supabase({ sub: id, email: 'twin_again@example.com', aud: 'authenticated' });
    const first = [json(await me(external)).id, json(await me(project)).id];
    expect(first[0]).not.toBe(first[1]);
    // Nothing changed, so these find the users created above rather than writing them.
    expect([json(await me(external)).id, json(await me(project)).id]).toEqual(first);
  });

  it('routes a token by its iss: one issuer\'s key cannot sign for another\'s iss, nor skip the iss it requires', async () => {
    const id = uniqueId();
    const claimsSupabase = { iss: `${SUPABASE_URL}/auth/v1`, sub: id, user_id: id, username: 'crosser', email: 'crosser@example.com', aud: 'authenticated' };
    const answers = [
      // Signed with the EXTERNAL_JWT_SECRET issuer's key (which accepts any iss) but naming Supabase.
      await me(await sign(claimsSupabase)),
      // Signed with Supabase's key but without the iss that Supabase's issuer requires.
      await me(await sign({ sub: id, email: 'crosser@example.com', aud: 'authenticated' }, { secret: SUPABASE_SECRET })),
    ];
    expect(answers.map((answer) => answer.statusCode)).toEqual([401, 401]);
    expect(answers.map((answer) => json(answer).code)).toEqual(['invalid_token', 'invalid_token']);
    expect(await externalUsers(id, 'external')).toHaveLength(0);
    expect(await externalUsers(id, 'supabase')).toHaveLength(0);
  });
});
