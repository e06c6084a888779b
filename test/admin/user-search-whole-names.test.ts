// An admin looks a user up by what they were told: the whole email address (up to 254 characters)
// or username (an external user's up to 200). The search took at most 100 characters, so a user
// with a longer email could not be found by it: pasting it answered 422 "must NOT have more than
// 100 characters". And an admin page whose search box is empty sends `?q=`, which answered 422
// too, where it means no search at all: every user.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli-users.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, uniqueUsername, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let admin: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  admin = await registerUser(t);
  await runUsersCommand(['promote', admin.username], t.database.sql);
});
afterAll(async () => {
  await t?.close();
});

const search = (query: string) =>
  t.request({ method: 'GET', url: `/v1/admin/users?${query}`, headers: bearer(admin.accessToken) });

describe('the admin user search', () => {
  it('finds a user by their whole long email address', async () => {
    const tag = uniqueUsername('long');
    // 64 characters before the @ (the most an address has there), 149 in all.
    const email = `${tag}.${'a'.repeat(63 - tag.length)}@${'b'.repeat(60)}.mail.example.com`;
    expect(email.length).toBeGreaterThan(100);
    const user = await registerUser(t, { email });

    const found = await search(`q=${encodeURIComponent(email)}`);
    expect(found.statusCode, found.body).toBe(200);
    expect(json(found).data.map((row: { id: string }) => row.id)).toEqual([user.id]);
    // In another case too, as every search.
    const upper = await search(`q=${encodeURIComponent(email.toUpperCase())}`);
    expect(json(upper).data.map((row: { id: string }) => row.id)).toEqual([user.id]);
  });

  it('still refuses a search longer than any stored name or email', async () => {
    const refused = await search(`q=${'x'.repeat(255)}`);
    expect(refused.statusCode).toBe(422);
    expect(json(refused).errors[0].path).toBe('query.q');
  });

  it('reads an empty search as none: every user, in the same pages', async () => {
    await registerUser(t);
    await registerUser(t);
    const empty = await search('q=&limit=2');
    expect(empty.statusCode, empty.body).toBe(200);
    const none = await search('limit=2');
    expect(json(empty)).toEqual(json(none));
    expect(json(empty).data).toHaveLength(2);
  });
});
