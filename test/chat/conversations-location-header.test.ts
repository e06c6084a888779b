// A 201 names what it created in `Location` (RFC 9110 §15.3.2: without it, the created resource is
// the request's own URI). `POST /v1/conversations` and `POST /v1/chatbots` answered 201 with none,
// so a client that follows HTTP rather than reading the body (generated REST clients, HTTP
// libraries' "follow the created resource", API gateways' caches) took `/v1/conversations` itself
// for the new conversation. Both now name the new resource's own address, which answers it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let user: RegisteredUser;
beforeAll(async () => {
  t = await createTestApp();
  user = await registerUser(t);
});
afterAll(async () => {
  await t.close();
});

async function createdAt(url: string, payload: object) {
  const created = await t.request({ method: 'POST', url, headers: bearer(user.accessToken), payload });
  expect(created.statusCode, created.body).toBe(201);
  const location = created.headers.location;
  expect(location).toBe(`${url}/${json(created).id}`);
  const followed = await t.request({ method: 'GET', url: String(location), headers: bearer(user.accessToken) });
  expect(followed.statusCode, followed.body).toBe(200);
  expect(json(followed)).toEqual(json(created));
}

describe('Location on 201', () => {
  it('names a new chatbot', async () => {
    await createdAt('/v1/chatbots', { name: 'Located bot' });
  });

  it('names a new conversation', async () => {
    await createdAt('/v1/conversations', { title: 'Located conversation' });
  });
});
