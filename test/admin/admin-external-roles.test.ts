// An external user may be an admin by their token's mapped role claim (§3: "admin from … a mapped
// role claim"). The claim is in each token, not stored, so the admin user list showed such a user
// as a plain "user": an operator reading it to learn who can administer the server was misled.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli-users.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-admin-roles-'));
const SECRET = randomBytes(32).toString('hex');
let t: TestApp;
let operator: RegisteredUser;

beforeAll(async () => {
  const path = join(dir, 'issuers.json');
  writeFileSync(
    path,
    JSON.stringify([
      { name: 'crm', secret: SECRET, issuer: 'crm', claims: { user_id: ['uid'], username: ['name'] }, role: { claim: 'roles', admin_values: ['parley-admin', 'owner'] } },
      { name: 'shop', secret: SECRET, issuer: 'shop' },
    ]),
  );
  t = await createTestApp({ AUTH_ISSUERS_FILE: path, AUTH_CACHE_MS: '0' });
  operator = await registerUser(t);
  await runUsersCommand(['promote', operator.username], t.database.sql);
});
afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

const sign = (payload: JWTPayload) => new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('10m').sign(new TextEncoder().encode(SECRET));

async function signIn(token: string) {
  const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(token) });
  expect(me.statusCode, me.body).toBe(200);
  return json(me);
}

async function listed(token: string, q: string) {
  const response = await t.request({ method: 'GET', url: `/v1/admin/users?q=${encodeURIComponent(q)}`, headers: bearer(token) });
  expect(response.statusCode, response.body).toBe(200);
  const rows = json(response).data as Array<Record<string, unknown>>;
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

describe('the admin user list, for users whose role comes from their token', () => {
  it('shows the role claim that makes an external user an admin', async () => {
    const name = `Boss ${randomBytes(4).toString('hex')}`;
    const token = await sign({ iss: 'crm', uid: randomBytes(4).toString('hex'), name, roles: ['staff', 'parley-admin'] });
    expect((await signIn(token)).role).toBe('admin');

    const row = await listed(operator.accessToken, name);
    expect(row).toMatchObject({ username: name, issuer: 'crm', role: 'user', role_claim: { claim: 'roles', admin_values: ['parley-admin', 'owner'] } });
    // The admin by claim reads the same list, and their own entry says how they got in.
    expect(await listed(token, name)).toEqual(row);
  });

  it('shows no role claim where none can make the user an admin', async () => {
    const shopper = `Shopper ${randomBytes(4).toString('hex')}`;
    await signIn(await sign({ iss: 'shop', sub: randomBytes(4).toString('hex'), username: shopper }));
    expect(await listed(operator.accessToken, shopper)).toMatchObject({ issuer: 'shop', role: 'user', role_claim: null });
    expect(await listed(operator.accessToken, operator.username)).toMatchObject({ issuer: null, role: 'admin', role_claim: null });
  });

  it('keeps the role claim in the answer to a role change', async () => {
    const name = `Clerk ${randomBytes(4).toString('hex')}`;
    await signIn(await sign({ iss: 'crm', uid: randomBytes(4).toString('hex'), name, roles: 'staff' }));
    const { id } = await listed(operator.accessToken, name);
    const changed = await t.request({ method: 'PATCH', url: `/v1/admin/users/${id}`, headers: bearer(operator.accessToken), payload: { role: 'admin' } });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(json(changed)).toMatchObject({ role: 'admin', role_claim: { claim: 'roles' } });
  });

  it('says in the API description what role and role_claim mean', async () => {
    const document = json(await t.request({ method: 'GET', url: '/openapi.json' }));
    const page = document.paths['/v1/admin/users'].get.responses['200'].content['application/json'].schema;
    const user = page.properties.data.items.properties as Record<string, { description?: string }>;
    expect(user.role_claim?.description).toMatch(/token/);
    expect(user.role?.description).toMatch(/ADMIN_USERNAMES/);
  });
});
