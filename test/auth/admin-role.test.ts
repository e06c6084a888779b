// §3 roles: an account named in ADMIN_USERNAMES is an admin everywhere its role is shown (sign-up,
// sign-in, refresh, /me, the admin list), and an admin cannot demote it through the API: the
// configuration would put the role back on the next request, so the change is refused, not faked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli-users.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, uniqueUsername, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
const named = uniqueUsername('boss');
const newcomer = uniqueUsername('chief');
const password = 'a long enough password';
let boss: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp({ ADMIN_USERNAMES: `someone_else,${named.toUpperCase()},${newcomer}`, AUTH_CACHE_MS: '0' });
  boss = await registerUser(t, { username: named });
});
afterAll(async () => {
  await t?.close();
});

describe('ADMIN_USERNAMES', () => {
  it('shows the account as admin in the sign-up, sign-in, refresh and /me answers', async () => {
    const registered = await t.request({ method: 'POST', url: '/v1/auth/register', payload: { username: newcomer, password } });
    expect(registered.statusCode).toBe(201);
    expect(json(registered).user.role).toBe('admin');
    const login = json(await t.request({ method: 'POST', url: '/v1/auth/login', payload: { username: newcomer, password } }));
    expect(login.user.role).toBe('admin');
    const refreshed = json(await t.request({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: login.refresh_token } }));
    expect(refreshed.user.role).toBe('admin');
    const me = json(await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(refreshed.access_token) }));
    expect(me.role).toBe('admin');
  });

  it('shows it as admin in the admin user list', async () => {
    const list = json(await t.request({ method: 'GET', url: `/v1/admin/users?q=${named}`, headers: bearer(boss.accessToken) }));
    expect(list.data).toEqual([expect.objectContaining({ id: boss.id, role: 'admin' })]);
  });

  it('refuses to demote it with 409 role_fixed_by_config, and changes nothing', async () => {
    const other = await registerUser(t);
    await runUsersCommand(['promote', other.username], t.database.sql);
    const demote = await t.request({ method: 'PATCH', url: `/v1/admin/users/${boss.id}`, headers: bearer(other.accessToken), payload: { role: 'user', is_active: false } });
    expect(demote.statusCode).toBe(409);
    expect(demote.headers['content-type']).toContain('application/problem+json');
    expect(json(demote).code).toBe('role_fixed_by_config');
    const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(boss.accessToken) });
    expect(me.statusCode).toBe(200);
    expect(json(me)).toMatchObject({ role: 'admin', is_active: true });
  });

  it('still lets it change other users\' roles, which answer with their new role', async () => {
    const other = await registerUser(t);
    const promoted = await t.request({ method: 'PATCH', url: `/v1/admin/users/${other.id}`, headers: bearer(boss.accessToken), payload: { role: 'admin' } });
    expect(json(promoted).role).toBe('admin');
    const demoted = await t.request({ method: 'PATCH', url: `/v1/admin/users/${other.id}`, headers: bearer(boss.accessToken), payload: { role: 'user' } });
    expect(demoted.statusCode).toBe(200);
    expect(json(demoted).role).toBe('user');
    expect(json(await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(other.accessToken) })).role).toBe('user');
  });
});
