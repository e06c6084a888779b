// The widget's first request is the chatbot's page (a simple GET, no preflight). When the chatbot
// is private, deleted or misnamed, the widget means to say "This chatbot is not available" and
// stop there; it can do so only if the browser lets it read the 404. Without CORS headers on
// that answer the browser hands the widget a network error instead, and the visitor is told to
// check their connection and retry. The 404 says nothing a server caller could not learn, and is
// the same for every such name, so any page may read it, as it may read the 429 before it.
import { randomBytes, randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisitRaw } from '../helpers/public.js';

const SHOP = 'https://shop.example.com';

let t: TestApp;
let owner: RegisteredUser;

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_PUBLIC_IP: '100000/1m', RATE_LIMIT_PUBLIC_VISITOR: '100000/1m' });
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
});

/** Names of chatbots a page may embed that no visitor can use: private, deleted, unknown, malformed. */
async function unusableNames(): Promise<string[]> {
  const hidden = await createChatbot(t, owner, { name: 'Hidden desk', is_public: false, allowed_origins: [SHOP] });
  const gone = await createChatbot(t, owner, { name: 'Gone desk', is_public: true, allowed_origins: [SHOP] });
  const deleted = await t.request({ method: 'DELETE', url: `/v1/chatbots/${gone.id}`, headers: bearer(owner.accessToken) });
  expect(deleted.statusCode).toBe(204);
  return [hidden.slug, hidden.id, gone.slug, gone.id, `no-such-desk-${randomBytes(4).toString('hex')}`, randomUUID(), 'Not%20a%20slug'];
}

function expectReadableNotFound(response: LightMyRequestResponse, origin: string, name: string) {
  expect(response.statusCode, `${name}: ${response.body}`).toBe(404);
  expect(response.headers['content-type'], name).toMatch(/^application\/problem\+json/);
  expect(json(response).code, name).toBe('not_found');
  expect(response.headers['access-control-allow-origin'], name).toBe(origin);
  expect(String(response.headers.vary), name).toMatch(/origin/i);
}

describe("a chatbot no visitor can use, asked for by a page's widget", () => {
  it('answers its page with a 404 the page can read, from the allowed origin and from any other', async () => {
    const names = await unusableNames();
    const bodies = new Set<string>();
    for (const origin of [SHOP, 'https://elsewhere.example.org']) {
      for (const name of names) {
        const page = await t.request({ method: 'GET', url: `/v1/public/chatbots/${name}`, headers: { origin } });
        expectReadableNotFound(page, origin, name);
        const { request_id: _id, ...body } = json(page);
        bodies.add(JSON.stringify(body));
      }
    }
    // Private, deleted and unknown are still one answer.
    expect(bodies.size).toBe(1);
  });

  it('answers the start of a visit with a 404 the page can read, and stores nothing', async () => {
    const names = await unusableNames();
    const before = { visitors: await t.count('visitors'), conversations: await t.count('conversations') };
    for (const name of names) {
      expectReadableNotFound(await startVisitRaw(t, name, { visitor_id: 'widget' }, { origin: SHOP }), SHOP, name);
    }
    expect({ visitors: await t.count('visitors'), conversations: await t.count('conversations') }).toEqual(before);
  });

  it('still refuses a foreign origin on a usable chatbot that names its origins, and a server caller without one', async () => {
    const bot = await createChatbot(t, owner, { name: 'Open desk', is_public: true, allowed_origins: [SHOP] });
    const foreign = await startVisitRaw(t, bot.slug, { visitor_id: 'widget' }, { origin: 'https://evil.example' });
    expect(foreign.statusCode).toBe(403);
    expect(json(foreign).code).toBe('origin_not_allowed');
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    const missing = await t.request({ method: 'GET', url: '/v1/public/chatbots/no-such-desk' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['access-control-allow-origin']).toBeUndefined();
  });
});
