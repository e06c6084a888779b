// To anyone but an admin the admin routes do not exist (§3): their 404 must be the very answer a
// path that names nothing gets. It lacked the not-found answer's x-content-type-options header, so
// comparing headers told an anonymous caller which admin routes the server has.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let user: RegisteredUser;
let key: string;
beforeAll(async () => {
  t = await createTestApp();
  user = await registerUser(t);
  key = (await createApiKey(t, user, (await createChatbot(t, user, { name: 'Keyed' })).id)).key;
});
afterAll(async () => {
  await t?.close();
});

/** What a caller can compare between two answers: all but what differs on every request. */
function shape(response: LightMyRequestResponse, path: string) {
  const { 'x-request-id': _id, date: _date, ...headers } = response.headers;
  const { request_id: _requestId, ...body } = json(response);
  return { status: response.statusCode, headers, body: JSON.stringify(body).replaceAll(path, '<path>') };
}

describe('admin routes, to anyone not an admin', () => {
  it('answer exactly as a path that names nothing, whoever asks', async () => {
    const callers: Record<string, Record<string, string>> = { anonymous: {}, user: bearer(user.accessToken), 'API key': bearer(key), 'broken token': bearer('not-a-token') };
    const routes: Array<{ method: 'GET' | 'PATCH'; hidden: string; none: string; payload?: object }> = [
      { method: 'GET', hidden: '/v1/admin/stats', none: '/v1/admin/statz' },
      { method: 'GET', hidden: '/v1/admin/users', none: '/v1/admin/userz' },
      { method: 'PATCH', hidden: `/v1/admin/users/${user.id}`, none: `/v1/admin/userz/${user.id}`, payload: { role: 'admin' } },
    ];
    for (const [who, headers] of Object.entries(callers)) {
      for (const route of routes) {
        const ask = (url: string) => t.request({ method: route.method, url, headers, ...(route.payload ? { payload: route.payload } : {}) });
        const hidden = shape(await ask(route.hidden), route.hidden);
        expect(hidden.status, `${who} ${route.hidden}`).toBe(404);
        expect(hidden, `${who} ${route.method} ${route.hidden}`).toEqual(shape(await ask(route.none), route.none));
      }
    }
  });
});
