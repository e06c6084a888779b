// `parley users promote|demote|deactivate|activate` and ADMIN_USERNAMES (§3 roles).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/cli-token.js';
import { runUsersCommand } from '../../src/cli-users.js';
import { createRedisRevocations } from '../../src/features/auth/revocations.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, uniqueUsername } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ AUTH_CACHE_MS: '0' });
});
afterAll(async () => {
  await t?.close();
});

const me = (token: string, app: TestApp = t) => app.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
const listAll = (token: string, app: TestApp = t) => app.request({ method: 'GET', url: '/v1/chatbots?all=true', headers: bearer(token) });

describe('parley users', () => {
  it('promotes a user to admin and demotes them again (names match regardless of case)', async () => {
    const user = await registerUser(t);
    expect(await runUsersCommand(['promote', user.username.toUpperCase()], t.database.sql)).toContain('is now an admin');
    expect(json(await me(user.accessToken)).role).toBe('admin');
    expect((await listAll(user.accessToken)).statusCode).toBe(200);
    await runUsersCommand(['demote', user.username], t.database.sql);
    expect(json(await me(user.accessToken)).role).toBe('user');
    expect((await listAll(user.accessToken)).statusCode).toBe(403);
  });

  it('deactivates a user: their next request is refused, until activated again', async () => {
    const user = await registerUser(t);
    await runUsersCommand(['deactivate', user.username], t.database.sql);
    expect((await me(user.accessToken)).statusCode).toBe(401);
    await runUsersCommand(['activate', user.username], t.database.sql);
    expect((await me(user.accessToken)).statusCode).toBe(200);
  });

  it('changes only the local account of that name, or only the external user with --issuer', async () => {
    const name = uniqueUsername('twin');
    const secret = randomBytes(32).toString('hex');
    const app = await createTestApp({ EXTERNAL_JWT_SECRET: secret, AUTH_CACHE_MS: '0' }, { sharedWith: t });
    try {
      const local = await registerUser(app, { username: name });
      const external = await mintToken(['--user-id', randomBytes(4).toString('hex'), '--username', name], { EXTERNAL_JWT_SECRET: secret });
      expect(json(await me(external, app))).toMatchObject({ username: name, issuer: 'external', role: 'user' });

      await runUsersCommand(['promote', name], app.database.sql);
      expect(json(await me(local.accessToken, app)).role).toBe('admin');
      expect(json(await me(external, app)).role).toBe('user');

      expect(await runUsersCommand(['deactivate', name, '--issuer', 'external'], app.database.sql)).toContain('is deactivated');
      expect((await me(external, app)).statusCode).toBe(401);
      expect((await me(local.accessToken, app)).statusCode).toBe(200);
      await expect(runUsersCommand(['activate', name, '--issuer', 'elsewhere'], app.database.sql)).rejects.toThrow(/no user of issuer "elsewhere"/);
    } finally {
      await app.close();
    }
  });

  it('says so when no such user exists, and explains its usage', async () => {
    await expect(runUsersCommand(['promote', uniqueUsername()], t.database.sql)).rejects.toThrow(/no local user named/);
    await expect(runUsersCommand(['crown', 'someone'], t.database.sql)).rejects.toThrow(/usage: parley users/);
    await expect(runUsersCommand(['promote'], t.database.sql)).rejects.toThrow(/usage: parley users/);
  });
});

describe('parley users with REDIS_URL', () => {
  const redisUrl = process.env.TEST_REDIS_URL;
  // Without TEST_REDIS_URL this is skipped, except in CI where a skip is a failure.
  const skipRedis = !redisUrl && process.env.CI !== 'true';

  it.skipIf(skipRedis)('tells running instances: a deactivated user is refused at their next request, whatever the instance remembered', async () => {
    if (!redisUrl) throw new Error('TEST_REDIS_URL is not set; with CI=true the Redis tests must run, not be skipped');
    // Remembering session checks (AUTH_CACHE_MS) as a running instance does.
    const app = await createTestApp({ REDIS_URL: redisUrl, AUTH_CACHE_MS: '60000' }, { sharedWith: t });
    const silent = { info() {}, warn() {} };
    const cli = await createRedisRevocations(redisUrl, silent, { cacheMs: 60_000 });
    try {
      const user = await registerUser(app);
      expect((await me(user.accessToken, app)).statusCode).toBe(200);
      await runUsersCommand(['deactivate', user.username], t.database.sql, (revocation) => cli.announce(revocation));
      expect((await me(user.accessToken, app)).statusCode).toBe(401);
      await runUsersCommand(['activate', user.username], t.database.sql, (revocation) => cli.announce(revocation));
      expect((await me(user.accessToken, app)).statusCode).toBe(200);
    } finally {
      await cli.close();
      await app.close();
    }
  });
});

describe('ADMIN_USERNAMES', () => {
  it('makes the named local accounts admins, never an external user who claims the name', async () => {
    const name = uniqueUsername('boss');
    const secret = randomBytes(32).toString('hex');
    const app = await createTestApp({ ADMIN_USERNAMES: `someone_else, ${name.toUpperCase()}`, EXTERNAL_JWT_SECRET: secret }, { sharedWith: t });
    try {
      const boss = await registerUser(app, { username: name });
      const other = await registerUser(app);
      expect(json(await me(boss.accessToken, app)).role).toBe('admin');
      expect((await listAll(boss.accessToken, app)).statusCode).toBe(200);
      expect(json(await me(other.accessToken, app)).role).toBe('user');
      const impostor = await mintToken(['--user-id', 'x1', '--username', name], { EXTERNAL_JWT_SECRET: secret });
      expect(json(await me(impostor, app))).toMatchObject({ username: name, issuer: 'external', role: 'user' });
    } finally {
      await app.close();
    }
  });
});
