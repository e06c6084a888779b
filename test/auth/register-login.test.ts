import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScoped } from '../../src/db/scope.js';
import { createUsersRepo } from '../../src/features/users/users.repo.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, metricValue, registerUser, uniqueUsername } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const login = (payload: Record<string, unknown>, ip = '127.0.0.1') =>
  t.request({ method: 'POST', url: '/v1/auth/login', payload, remoteAddress: ip });

describe('POST /v1/auth/register', () => {
  it('creates the account and signs in at once', async () => {
    const username = uniqueUsername('reg');
    const response = await t.request({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { username, password: 'a long enough password', email: `${username}@example.com` },
    });
    expect(response.statusCode).toBe(201);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = json(response);
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 900, user: { username, email: `${username}@example.com`, role: 'user', is_active: true, issuer: null } });
    expect(body.refresh_token).toMatch(/^prt_[A-Za-z0-9_-]{43}$/);
    expect(body.user.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    expect(body.user).not.toHaveProperty('password_hash');
    const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(body.access_token) });
    expect(me.statusCode).toBe(200);
    expect(json(me).id).toBe(body.user.id);
  });

  it('answers 409 for a taken username, whatever its case, and stores nothing', async () => {
    const first = await registerUser(t);
    const before = await t.count('users');
    const response = await t.request({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { username: first.username.toUpperCase(), password: 'another password' },
    });
    expect(response.statusCode).toBe(409);
    expect(json(response).code).toBe('username_taken');
    expect(await t.count('users')).toBe(before);
  });

  it('answers 409 email_taken to an email already in use, whatever its case, and stores nothing', async () => {
    const email = `${uniqueUsername('mail')}@example.com`;
    const first = await registerUser(t, { email });
    const before = await t.count('users');
    for (const payload of [
      { username: uniqueUsername(), password: 'some password', email },
      { username: uniqueUsername(), password: 'some password', email: email.toUpperCase() },
      { password: 'some password', email },
    ]) {
      const response = await t.request({ method: 'POST', url: '/v1/auth/register', payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(409);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(json(response).code).toBe('email_taken');
    }
    expect(await t.count('users')).toBe(before);
    // Sign-in by email reaches the one account that has it.
    const byEmail = await login({ email, password: first.password });
    expect(byEmail.statusCode).toBe(200);
    expect(json(byEmail).user.id).toBe(first.id);
  });

  it('is all or nothing: a registration that fails half-way leaves the username and email free for a retry', async () => {
    const username = uniqueUsername('retry');
    const email = `${username}@example.com`;
    const payload = { username, password: 'a long enough password', email };
    const counts = async () => [await t.count('users'), await t.count('sessions'), await t.count('refresh_tokens')];
    const before = await counts();
    // A real fault after the account and its session are written: the refresh token cannot be stored.
    await t.database.sql.exec('ALTER TABLE refresh_tokens ADD CONSTRAINT refuse_all_tokens CHECK (false) NOT VALID');
    try {
      const failed = await t.request({ method: 'POST', url: '/v1/auth/register', payload });
      expect(failed.statusCode).toBe(500);
      expect(json(failed).code).toBe('internal_error');
    } finally {
      await t.database.sql.exec('ALTER TABLE refresh_tokens DROP CONSTRAINT refuse_all_tokens');
    }
    expect(await counts()).toEqual(before);

    const retry = await t.request({ method: 'POST', url: '/v1/auth/register', payload });
    expect(retry.statusCode, retry.body).toBe(201);
    expect(json(retry).user).toMatchObject({ username, email });
    expect((await login({ email, password: payload.password })).statusCode).toBe(200);
  });

  it.each([
    ['7 characters', 'short12'],
    ['257 characters', 'x'.repeat(257)],
  ])('refuses a password of %s with 422', async (_label, password) => {
    const response = await t.request({ method: 'POST', url: '/v1/auth/register', payload: { username: uniqueUsername(), password } });
    expect(response.statusCode).toBe(422);
    expect(json(response).errors).toEqual([expect.objectContaining({ path: 'body.password' })]);
  });

  it('counts password length in characters, not bytes: 256 emoji are accepted', async () => {
    const password = '🔑'.repeat(256);
    const user = await registerUser(t, { password });
    expect((await login({ username: user.username, password })).statusCode).toBe(200);
  });

  it('refuses a password over 256 characters (422) or of a megabyte (413) and never hashes it', async () => {
    const before = (await metricValue(t, 'parley_password_hash_operations_total')) as number;
    const users = await t.count('users');
    for (const [length, status] of [[257, 422], [1_000_000, 413]] as const) {
      for (const url of ['/v1/auth/register', '/v1/auth/login']) {
        const response = await t.request({ method: 'POST', url, payload: { username: uniqueUsername(), password: 'p'.repeat(length) } });
        expect(response.statusCode).toBe(status);
      }
      const token = await t.request({
        method: 'POST',
        url: '/v1/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `grant_type=password&username=someone&password=${'p'.repeat(length)}`,
      });
      expect(token.statusCode).toBe(status);
    }
    expect(await metricValue(t, 'parley_password_hash_operations_total')).toBe(before);
    expect(await t.count('users')).toBe(users);
  });

  it('refuses a body over BODY_LIMIT with 413 before reading it as a password', async () => {
    const response = await t.request({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { username: uniqueUsername(), password: 'p'.repeat(1_100_000) },
    });
    expect(response.statusCode).toBe(413);
    expect(json(response).code).toBe('payload_too_large');
  });
});

describe('POST /v1/auth/login', () => {
  it('signs in by username (any case) or by email', async () => {
    const email = `${uniqueUsername('mail')}@example.com`;
    const user = await registerUser(t, { email });
    for (const payload of [
      { username: user.username, password: user.password },
      { username: user.username.toUpperCase(), password: user.password },
      { email: email.toUpperCase(), password: user.password },
      { username: email, password: user.password },
    ]) {
      const response = await login(payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(200);
      expect(json(response).user.id).toBe(user.id);
    }
  });

  it('uses the password exactly as typed: no trimming', async () => {
    const user = await registerUser(t, { password: '  spaced password  ' });
    expect((await login({ username: user.username, password: 'spaced password' })).statusCode).toBe(401);
    expect((await login({ username: user.username, password: '  spaced password  ' })).statusCode).toBe(200);
  });

  it('answers an unknown user exactly as a wrong password, after the same hashing work', async () => {
    const user = await registerUser(t);
    const verifiesBefore = await metricValue(t, 'parley_password_hash_operations_total', { operation: 'verify' });
    const wrong = await login({ username: user.username, password: 'not the password' });
    const afterWrong = await metricValue(t, 'parley_password_hash_operations_total', { operation: 'verify' });
    const unknown = await login({ username: uniqueUsername('ghost'), password: 'not the password' });
    const afterUnknown = await metricValue(t, 'parley_password_hash_operations_total', { operation: 'verify' });

    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    const strip = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });
    expect(strip(json(unknown))).toEqual(strip(json(wrong)));
    expect(json(wrong).code).toBe('invalid_credentials');
    expect(afterWrong - verifiesBefore).toBe(1);
    expect(afterUnknown - afterWrong).toBe(1);
  });

  it('needs a username or an email', async () => {
    const response = await login({ password: 'whatever pw' });
    expect(response.statusCode).toBe(422);
    expect(json(response).errors[0].path).toBe('body.username');
  });

  it('accepts an imported bcrypt hash and replaces it with argon2id on success', async () => {
    const users = createUsersRepo(createScoped(t.database.app));
    const username = uniqueUsername('legacy');
    const row = await users.insertLocal({ username, email: null, passwordHash: bcrypt.hashSync('legacy secret', 10) }, new Date());
    expect((await login({ username, password: 'wrong secret' })).statusCode).toBe(401);
    expect((await users.findById(row.id))?.passwordHash).toMatch(/^\$2[aby]\$/);

    expect((await login({ username, password: 'legacy secret' })).statusCode).toBe(200);
    expect((await users.findById(row.id))?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect((await login({ username, password: 'legacy secret' })).statusCode).toBe(200);
  });

  it('refuses a deactivated account with the same answer as a wrong password', async () => {
    const user = await registerUser(t);
    await t.database.sql.query('UPDATE users SET is_active = false WHERE id = $1', [user.id]);
    const response = await login({ username: user.username, password: user.password });
    expect(response.statusCode).toBe(401);
    expect(json(response).code).toBe('invalid_credentials');
  });
});

describe('POST /v1/auth/token (OAuth2)', () => {
  const form = (body: string) =>
    t.request({ method: 'POST', url: '/v1/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: body });

  it('grants tokens for a form-encoded password grant and ignores client_id and scope', async () => {
    const user = await registerUser(t, { password: 'p@ss word+&=' });
    const body = new URLSearchParams({ grant_type: 'password', username: user.username, password: user.password, client_id: 'mobile', scope: 'chat' });
    const response = await form(body.toString());
    expect(response.statusCode).toBe(200);
    expect(json(response)).toMatchObject({ token_type: 'bearer', user: { id: user.id } });
  });

  it('defaults grant_type to password', async () => {
    const user = await registerUser(t);
    const response = await form(new URLSearchParams({ username: user.username, password: user.password }).toString());
    expect(response.statusCode).toBe(200);
  });

  it('exchanges a refresh token with grant_type=refresh_token', async () => {
    const user = await registerUser(t);
    const response = await form(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: user.refreshToken }).toString());
    expect(response.statusCode).toBe(200);
    expect(json(response).refresh_token).not.toBe(user.refreshToken);
  });

  it('answers 400 unsupported_grant_type with the OAuth2 error field', async () => {
    const response = await form('grant_type=client_credentials');
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ code: 'unsupported_grant_type', error: 'unsupported_grant_type' });
  });

  it('answers 401 with the same body for wrong credentials', async () => {
    const response = await form('username=nobody-here&password=whatever1');
    expect(response.statusCode).toBe(401);
    expect(json(response).code).toBe('invalid_credentials');
  });

  it('refuses malformed percent-encoding and repeated fields with 400', async () => {
    expect((await form('username=%E0%A4%A&password=x')).statusCode).toBe(400);
    expect((await form('username=a&username=b&password=x')).statusCode).toBe(400);
  });
});
