// To anyone but an admin the admin routes do not exist (§3). Two answers still told them apart from
// a path naming nothing: an id past the router's 100-character limit on a segment ("No resource
// at …" where an unknown path says "No route …"), and a body that is not JSON (400 invalid_json on
// an unknown path, 404 on a hidden route). An admin still gets the clear 400 for a broken body.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli-users.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let user: RegisteredUser;
let admin: RegisteredUser;
let key: string;
beforeAll(async () => {
  t = await createTestApp();
  user = await registerUser(t);
  admin = await registerUser(t);
  await runUsersCommand(['promote', admin.username], t.database.sql);
  key = (await createApiKey(t, user, (await createChatbot(t, user, { name: 'Keyed' })).id)).key;
});
afterAll(async () => {
  await t?.close();
});

/** What a caller can compare between two answers: all but what differs on every request. */
function shape(response: LightMyRequestResponse, path: string) {
  const { 'x-request-id': _id, date: _date, ...headers } = response.headers;
  const text = response.headers['content-type']?.toString().includes('json') ? JSON.stringify({ ...json(response), request_id: undefined }) : response.body;
  return { status: response.statusCode, headers, body: text.replaceAll(path, '<path>') };
}

const LONG_ID = 'a'.repeat(101);
const JSON_TYPE = { 'content-type': 'application/json' };

interface Case {
  name: string;
  method: 'GET' | 'PATCH';
  hidden: string;
  none: string;
  headers?: Record<string, string>;
  payload?: string;
}

describe('admin routes, to anyone not an admin, with input the router or the body parser refuses', () => {
  it('answer exactly as a path that names nothing', async () => {
    const callers: Record<string, Record<string, string>> = { anonymous: {}, user: bearer(user.accessToken), 'API key': bearer(key), 'broken token': bearer('not-a-token') };
    const cases: Case[] = [
      { name: 'an over-long id', method: 'PATCH', hidden: `/v1/admin/users/${LONG_ID}`, none: `/v1/admin/userz/${LONG_ID}`, headers: JSON_TYPE, payload: '{"role":"admin"}' },
      { name: 'an over-long id, GET', method: 'GET', hidden: `/v1/admin/users/${LONG_ID}`, none: `/v1/admin/userz/${LONG_ID}` },
      { name: 'an over-long id and a broken body', method: 'PATCH', hidden: `/v1/admin/users/${LONG_ID}`, none: `/v1/admin/userz/${LONG_ID}`, headers: JSON_TYPE, payload: '{' },
      { name: 'a broken percent-encoding in the id', method: 'PATCH', hidden: '/v1/admin/users/%zz', none: '/v1/admin/userz/%zz', headers: JSON_TYPE, payload: '{"role":"admin"}' },
      { name: 'a broken UTF-8 id', method: 'GET', hidden: '/v1/admin/users/%C0%AE', none: '/v1/admin/userz/%C0%AE' },
      { name: 'a broken body', method: 'PATCH', hidden: `/v1/admin/users/${user.id}`, none: `/v1/admin/userz/${user.id}`, headers: JSON_TYPE, payload: '{' },
      { name: 'an empty JSON body', method: 'PATCH', hidden: `/v1/admin/users/${user.id}`, none: `/v1/admin/userz/${user.id}`, headers: JSON_TYPE, payload: '' },
      { name: 'a body of another type', method: 'PATCH', hidden: `/v1/admin/users/${user.id}`, none: `/v1/admin/userz/${user.id}`, headers: { 'content-type': 'text/csv' }, payload: 'a,b' },
      { name: 'a body on GET', method: 'GET', hidden: '/v1/admin/stats', none: '/v1/admin/statz', headers: JSON_TYPE, payload: '{' },
    ];
    for (const [who, auth] of Object.entries(callers)) {
      for (const c of cases) {
        const ask = (url: string) => t.request({ method: c.method, url, headers: { ...auth, ...c.headers }, ...(c.payload !== undefined ? { payload: c.payload } : {}) });
        const hidden = shape(await ask(c.hidden), c.hidden);
        expect(hidden, `${who}: ${c.name}`).toEqual(shape(await ask(c.none), c.none));
        expect(hidden.status, `${who}: ${c.name}`).toBe(404);
      }
    }
  });

  it('answer as a path that names nothing also to a site the API lets in (CORS)', async () => {
    const open = await createTestApp({ CORS_ORIGINS: 'https://app.example' });
    try {
      const headers = { origin: 'https://app.example', ...JSON_TYPE };
      for (const [hidden, none] of [[`/v1/admin/users/${LONG_ID}`, `/v1/admin/userz/${LONG_ID}`], ['/v1/admin/users/%zz', '/v1/admin/userz/%zz']] as const) {
        const ask = (url: string) => open.request({ method: 'PATCH', url, headers, payload: '{' });
        expect(shape(await ask(hidden), hidden), hidden).toEqual(shape(await ask(none), none));
      }
    } finally {
      await open.close();
    }
  });

  it('log the address as it was sent, one request line each', async () => {
    const url = `/v1/admin/users/${LONG_ID}?x=1`;
    const answer = await t.request({ method: 'GET', url });
    const lines = t.logs.filter((line) => line.includes(answer.headers['x-request-id'] as string) && line.includes('"msg":"request"'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ method: 'GET', path: `/v1/admin/users/${LONG_ID}`, status: 404 });
  });

  it('still tell an admin plainly what is wrong with the body', async () => {
    const broken = await t.request({ method: 'PATCH', url: `/v1/admin/users/${user.id}`, headers: { ...bearer(admin.accessToken), ...JSON_TYPE }, payload: '{' });
    expect(broken.statusCode, broken.body).toBe(400);
    expect(json(broken).code).toBe('invalid_json');
    const long = await t.request({ method: 'PATCH', url: `/v1/admin/users/${LONG_ID}`, headers: { ...bearer(admin.accessToken), ...JSON_TYPE }, payload: '{"role":"admin"}' });
    expect(long.statusCode, long.body).toBe(404);
    expect(json(long).code).toBe('not_found');
    const unchanged = await t.request({ method: 'GET', url: `/v1/admin/users?q=${user.username}`, headers: bearer(admin.accessToken) });
    expect((json(unchanged).data as Array<{ role: string }>).map((row) => row.role)).toEqual(['user']);
  });
});
