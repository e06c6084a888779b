// Sign-up by email alone (§3.1): the seed's email signup sends no username.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, pendingMigrations } from '../../src/db/migrate.js';
import { newId } from '../../src/lib/ids.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const PASSWORD = 'a long enough password';
const register = (payload: Record<string, unknown>, app: TestApp = t) => app.request({ method: 'POST', url: '/v1/auth/register', payload });
const login = (payload: Record<string, unknown>, app: TestApp = t) => app.request({ method: 'POST', url: '/v1/auth/login', payload });
/** A local part no other test uses, so the made-up usernames below are predictable. */
const fresh = (name: string) => `${name}${randomBytes(3).toString('hex')}`;

/** Signs up with an email alone and returns the username the server made. */
async function signUp(email: string, app: TestApp = t): Promise<string> {
  const response = await register({ email, password: PASSWORD }, app);
  expect(response.statusCode, response.body).toBe(201);
  return json(response).user.username;
}

describe('POST /v1/auth/register with an email and no username', () => {
  it('signs in at once with a username made from the email, made unique like slugs', async () => {
    const name = fresh('dana');
    const response = await register({ email: `${name}@one.example`, password: PASSWORD });
    expect(response.statusCode, response.body).toBe(201);
    const body = json(response);
    expect(body.user).toMatchObject({ username: name, email: `${name}@one.example`, issuer: null });
    expect((await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(body.access_token) })).statusCode).toBe(200);

    expect(await signUp(`${name}@two.example`)).toBe(`${name}-2`);
    expect(await signUp(`${name.toUpperCase()}@three.example`)).toBe(`${name}-3`);
    // Each account is reachable by its own email and by the username it was given.
    for (const [identifier, id] of [
      [{ email: `${name}@two.example` }, `${name}-2`],
      [{ username: `${name}-2` }, `${name}-2`],
    ] as const) {
      const signedIn = await login({ ...identifier, password: PASSWORD });
      expect(signedIn.statusCode).toBe(200);
      expect(json(signedIn).user.username).toBe(id);
    }
  });

  it('never takes a username someone chose, whatever its case', async () => {
    const name = fresh('kim');
    const chosen = await register({ username: name.toUpperCase(), password: PASSWORD });
    expect(chosen.statusCode).toBe(201);
    expect(await signUp(`${name}@example.com`)).toBe(`${name}-2`);
  });

  it.each([
    ['capitals and a plus tag', 'Dana.Smith+news', 'dana.smith-news'],
    ['leading and trailing hyphens', '--x_y_z--', 'x_y_z'],
    ['nothing usable', '+++', 'user'],
    ['a long local part, cut to leave room for a number', 'a'.repeat(64), 'a'.repeat(24)],
  ])('makes a valid username from %s', async (_label, localPart, expected) => {
    const domain = `${randomBytes(4).toString('hex')}.example`;
    expect(await signUp(`${localPart}@${domain}`)).toBe(expected);
    expect(await signUp(`${localPart}@second-${domain}`)).toBe(`${expected}-2`);
  });

  it('starts a local part too short for a username at its first number', async () => {
    const domain = `${randomBytes(4).toString('hex')}.example`;
    expect(await signUp(`jo@${domain}`)).toBe('jo-2');
    expect(await signUp(`jo@second-${domain}`)).toBe('jo-3');
  });

  it('gives concurrent sign-ups from the same local part different usernames, none refused', async () => {
    const name = fresh('sam');
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => register({ email: `${name}@host${i}.example`, password: PASSWORD })));
    for (const answer of answers) expect(answer.statusCode, answer.body).toBe(201);
    const usernames = answers.map((answer) => json(answer).user.username as string);
    expect(new Set(usernames)).toEqual(new Set([name, `${name}-2`, `${name}-3`, `${name}-4`, `${name}-5`, `${name}-6`]));
  });

  it.each<[string, Record<string, unknown>]>([
    ['neither username nor email', { password: PASSWORD }],
    ['a null email and no username', { password: PASSWORD, email: null }],
  ])('answers 422 validation_failed to %s, and stores nothing', async (_label, payload) => {
    const before = await t.count('users');
    const response = await register(payload);
    expect(response.statusCode).toBe(422);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(response)).toMatchObject({ code: 'validation_failed', errors: [{ path: 'body.username', message: expect.any(String) }] });
    expect(await t.count('users')).toBe(before);
  });

  it('answers 422 to an email that is not one, and stores nothing', async () => {
    const before = await t.count('users');
    const response = await register({ email: 'not-an-email', password: PASSWORD });
    expect(response.statusCode).toBe(422);
    expect(json(response).errors[0].path).toBe('body.email');
    expect(await t.count('users')).toBe(before);
  });
});

describe('migration 0006 on a database that already holds duplicate emails', () => {
  it('keeps the email on the earliest account, clears it on later ones, and leaves external users alone', async () => {
    const app = await createTestApp();
    try {
      const owner = app.database.sql;
      // The database as it was before 0006, when a second sign-up with an email was accepted.
      await owner.exec(`DROP INDEX users_local_email_key;
        CREATE INDEX users_local_email_idx ON users (lower(email), created_at) WHERE issuer IS NULL AND email IS NOT NULL;
        DELETE FROM parley_migrations WHERE id = '0006_local_email_unique';`);
      const email = `${fresh('dup')}@example.com`;
      const first = json(await register({ username: fresh('first'), email, password: PASSWORD }, app)).user;
      const later = fresh('later');
      await owner.query(
        `INSERT INTO users (id, username, email, password_hash, created_at, updated_at)
         SELECT $1, $2, upper(email), password_hash, created_at + interval '1 minute', updated_at FROM users WHERE id = $3`,
        [newId(), later, first.id],
      );
      await owner.query(
        `INSERT INTO users (id, username, email, issuer, external_id, created_at, updated_at) VALUES ($1, 'ext', $2, 'external', 'e-1', now(), now())`,
        [newId(), email],
      );

      expect(await migrate(owner)).toEqual(['0006_local_email_unique']);
      expect(await pendingMigrations(owner)).toEqual([]);

      const rows = await owner.query<{ username: string; email: string | null }>('SELECT username, email FROM users WHERE lower(email) = lower($1) OR username = $2', [email, later]);
      expect(rows).toHaveLength(3);
      expect(rows).toEqual(expect.arrayContaining([
        { username: first.username, email },
        { username: later, email: null },
        { username: 'ext', email },
      ]));
      expect(json(await login({ email, password: PASSWORD }, app)).user.id).toBe(first.id);
      expect((await login({ username: later, password: PASSWORD }, app)).statusCode).toBe(200);
      expect((await register({ email, password: PASSWORD }, app)).statusCode).toBe(409);
    } finally {
      await app.close();
    }
  });
});
