// Admin routes (§3 roles): users, their role and activity, and server-wide counts. Anyone but an
// admin gets 404, as if the routes did not exist.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli-users.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, uniqueUsername, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let admin: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp({ AUTH_CACHE_MS: '0' });
  admin = await registerUser(t);
  await runUsersCommand(['promote', admin.username], t.database.sql);
});
afterAll(async () => {
  await t?.close();
});

const as = (user: RegisteredUser, method: 'GET' | 'PATCH', url: string, payload?: object) =>
  t.request({ method, url, headers: bearer(user.accessToken), ...(payload ? { payload } : {}) });

describe('admin routes', () => {
  it('answer 404 to a regular user, and to callers without a token or with a bad one, like a route that does not exist', async () => {
    const user = await registerUser(t);
    const unknown = await t.request({ method: 'GET', url: '/v1/admin/nothing-here' });
    for (const [method, url] of [
      ['GET', '/v1/admin/users'],
      ['GET', '/v1/admin/stats'],
      ['PATCH', `/v1/admin/users/${user.id}`],
    ] as const) {
      const payload = method === 'PATCH' ? { role: 'admin' } : undefined;
      const answers = [
        await as(user, method, url, payload),
        await t.request({ method, url, ...(payload ? { payload } : {}) }),
        await t.request({ method, url, headers: { authorization: 'Bearer not.a.token' }, ...(payload ? { payload } : {}) }),
      ];
      for (const answer of answers) {
        expect(answer.statusCode, url).toBe(404);
        expect(json(answer).code, url).toBe('not_found');
        expect(answer.headers['www-authenticate'], url).toBeUndefined();
        expect(Object.keys(json(answer)).sort()).toEqual(Object.keys(json(unknown)).sort());
      }
    }
    expect(json(await as(user, 'GET', '/v1/auth/me')).role).toBe('user');
  });

  it('list users with search and keyset pages', async () => {
    const tag = uniqueUsername('find');
    const found = await Promise.all([1, 2, 3].map((i) => registerUser(t, { username: `${tag}_${i}` })));
    const first = json(await as(admin, 'GET', `/v1/admin/users?q=${tag}&limit=2`));
    expect(first.data).toHaveLength(2);
    const second = json(await as(admin, 'GET', `/v1/admin/users?q=${tag}&limit=2&cursor=${first.next_cursor}`));
    expect([...first.data, ...second.data].map((u: { id: string }) => u.id).sort()).toEqual(found.map((u) => u.id).sort());
    expect(second.next_cursor).toBeNull();
    expect(json(await as(admin, 'GET', '/v1/admin/users?q=%25')).data).toEqual([]);
  });

  it('change a role and deactivate a user, who is refused on the next request', async () => {
    const user = await registerUser(t);
    const promoted = await as(admin, 'PATCH', `/v1/admin/users/${user.id}`, { role: 'admin' });
    expect(json(promoted)).toMatchObject({ id: user.id, role: 'admin' });
    const off = await as(admin, 'PATCH', `/v1/admin/users/${user.id}`, { is_active: false });
    expect(json(off).is_active).toBe(false);
    expect((await as(user, 'GET', '/v1/auth/me')).statusCode).toBe(401);
    expect((await as(admin, 'PATCH', `/v1/admin/users/${user.id}`, {})).statusCode).toBe(422);
    expect((await as(admin, 'PATCH', '/v1/admin/users/01a1ffaf-c2b1-7589-ad69-bbf29035cb2d', { role: 'user' })).statusCode).toBe(404);
  });

  it('count users, chatbots, conversations, messages and tokens', async () => {
    const before = json(await as(admin, 'GET', '/v1/admin/stats'));
    const user = await registerUser(t);
    await t.request({ method: 'POST', url: '/v1/chat', headers: bearer(user.accessToken), payload: { message: 'hello' } });
    const after = json(await as(admin, 'GET', '/v1/admin/stats'));
    expect(after.users).toBe(before.users + 1);
    expect(after.chatbots).toBe(before.chatbots + 1);
    expect(after.conversations).toBe(before.conversations + 1);
    expect(after.messages).toBe(before.messages + 2);
    expect(after.tokens.prompt).toBeGreaterThan(before.tokens.prompt);
    expect(after.tokens.completion).toBeGreaterThan(before.tokens.completion);
  });

  it('an admin may not deactivate or demote their own account (no way back but the command line); another admin may', async () => {
    const self = await registerUser(t);
    await runUsersCommand(['promote', self.username], t.database.sql);
    for (const change of [{ is_active: false }, { role: 'user' }, { role: 'user', is_active: false }]) {
      const refused = await as(self, 'PATCH', `/v1/admin/users/${self.id}`, change);
      expect(refused.statusCode, JSON.stringify(change)).toBe(409);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect(json(refused).code).toBe('own_account');
    }
    // Nothing changed: still an active admin.
    const me = json(await as(self, 'GET', '/v1/auth/me'));
    expect(me.role).toBe('admin');
    expect((await as(self, 'GET', '/v1/admin/stats')).statusCode).toBe(200);
    // What changes nothing of the kind stays allowed on oneself.
    expect((await as(self, 'PATCH', `/v1/admin/users/${self.id}`, { is_active: true, role: 'admin' })).statusCode).toBe(200);
    // Another admin can.
    const demoted = await as(admin, 'PATCH', `/v1/admin/users/${self.id}`, { role: 'user', is_active: false });
    expect(demoted.statusCode).toBe(200);
    expect(json(demoted)).toMatchObject({ role: 'user', is_active: false });
  });
});
