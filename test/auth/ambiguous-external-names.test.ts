// External usernames come from the issuer's tokens and are not unique (§3.2: users are unique
// per issuer and external id). Where a user chooses their own name there (Keycloak's and Auth0's
// preferred_username), anyone can take an existing user's. `parley users … --issuer` must then
// change the one user the operator means, never everyone who took that name.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli-users.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, uniqueUsername } from '../helpers/factories.js';

const SECRET = randomBytes(32).toString('hex');
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ EXTERNAL_JWT_SECRET: SECRET, AUTH_CACHE_MS: '0' });
});
afterAll(async () => {
  await t?.close();
});

const token = (userId: string, username: string) =>
  new SignJWT({ user_id: userId, username }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('10m').sign(new TextEncoder().encode(SECRET));
const me = async (userId: string, username: string) => t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(await token(userId, username)) });

describe('parley users --issuer when several users of the issuer share the name', () => {
  it('promotes nobody and names the users to choose from; --external-id promotes the one meant', async () => {
    const name = uniqueUsername('dana');
    const dana = `id-${randomBytes(4).toString('hex')}`;
    const impostor = `id-${randomBytes(4).toString('hex')}`;
    expect(json(await me(dana, name)).role).toBe('user');
    // Someone else of the same issuer names themselves like the user the operator means.
    expect(json(await me(impostor, name)).role).toBe('user');

    await expect(runUsersCommand(['promote', name, '--issuer', 'external'], t.database.sql)).rejects.toThrow(new RegExp(`2 users of issuer "external" are named "${name}".*--external-id`, 's'));
    expect(json(await me(dana, name)).role).toBe('user');
    expect(json(await me(impostor, name)).role).toBe('user');

    expect(await runUsersCommand(['promote', name, '--issuer', 'external', '--external-id', dana], t.database.sql)).toContain('is now an admin');
    expect(json(await me(dana, name)).role).toBe('admin');
    expect(json(await me(impostor, name)).role).toBe('user');
  });

  it('deactivates only the user named by --external-id, and refuses an id whose user has another name', async () => {
    const name = uniqueUsername('sam');
    const sam = `id-${randomBytes(4).toString('hex')}`;
    const other = `id-${randomBytes(4).toString('hex')}`;
    await me(sam, name);
    await me(other, name);
    await expect(runUsersCommand(['deactivate', name, '--issuer', 'external'], t.database.sql)).rejects.toThrow(/are named/);
    expect((await me(sam, name)).statusCode).toBe(200);
    expect((await me(other, name)).statusCode).toBe(200);

    await expect(runUsersCommand(['deactivate', 'someone-else', '--issuer', 'external', '--external-id', other], t.database.sql)).rejects.toThrow(/no user of issuer "external"/);
    expect(await runUsersCommand(['deactivate', name, '--issuer', 'external', '--external-id', other], t.database.sql)).toContain('is deactivated');
    expect((await me(other, name)).statusCode).toBe(401);
    expect((await me(sam, name)).statusCode).toBe(200);
  });

  // External ids are kept exactly as the issuer sends them. One an issuer's user may choose
  // reached the operator's terminal raw in this message: escape sequences retitled the window or
  // hid the line, a direction override reversed the ids around it.
  it('names the users by ids whose control characters and direction overrides are shown escaped', async () => {
    const name = uniqueUsername('eve');
    const plain = `id-${randomBytes(4).toString('hex')}`;
    const hostile = `id-\u001b]0;owned\u0007\u001b[2K\u009b31m\u202e-${randomBytes(4).toString('hex')}`;
    await me(plain, name);
    await me(hostile, name);
    const refused = await runUsersCommand(['promote', name, '--issuer', 'external'], t.database.sql).catch((error: Error) => error);
    expect(refused).toBeInstanceOf(Error);
    const message = (refused as Error).message;
    expect(message).toContain(plain);
    expect(message).not.toMatch(/[\p{Cc}\u202d\u202e]/u);
    expect(message).toContain(hostile.replace(/[\p{Cc}\u202d\u202e]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));

    const done = await runUsersCommand(['promote', name, '--issuer', 'external', '--external-id', hostile], t.database.sql);
    expect(done).toContain('is now an admin');
    expect(done).not.toMatch(/[\p{Cc}\u202d\u202e]/u);
  });

  it('takes --external-id only with --issuer', async () => {
    await expect(runUsersCommand(['promote', 'anyone', '--external-id', 'x'], t.database.sql)).rejects.toThrow(/--external-id.*--issuer/);
  });
});
