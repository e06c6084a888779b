// A visit's start with a body the server refuses (§7, §12): the page's origin and the client
// address's limit come first, as on every other public route. A page from a foreign origin is
// told 403 `origin_not_allowed` whatever it sends, and a flood of bad bodies from one address is
// held by RATE_LIMIT_PUBLIC_IP like good ones, so it cannot go on unmetered.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';

const SHOP = 'https://shop.example.com';
const FOREIGN = 'https://elsewhere.example.net';

let t: TestApp;
let slug: string;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_PUBLIC_IP: '5/1m', RATE_LIMIT_PUBLIC_CHATBOT: '100000/1m', RATE_LIMIT_PUBLIC_VISITOR: '100000/1m' });
  const owner = await registerUser(t);
  slug = (await createChatbot(t, owner, { name: 'Shop helper', is_public: true, allowed_origins: [SHOP] })).slug;
});
afterAll(async () => {
  await t?.close();
});

/** Bodies a page might send by mistake or on purpose, each refused by parsing or the schema. */
const BAD_BODIES: Array<{ name: string; type: string; payload: string }> = [
  { name: 'malformed JSON', type: 'application/json', payload: '{"visitor_id": ' },
  { name: 'a wrong type', type: 'application/json', payload: '{"visitor_id": 42}' },
  { name: 'an unknown field', type: 'application/json', payload: '{"visitor_id": "v", "role": "admin"}' },
  { name: 'no visitor_id', type: 'application/json', payload: '{}' },
  { name: 'a form', type: 'application/x-www-form-urlencoded', payload: 'visitor_id=v' },
  { name: 'text', type: 'text/plain', payload: '{"visitor_id": "v"}' },
];

const start = (body: { type: string; payload: string }, origin: string, ip: string) =>
  t.request({ method: 'POST', url: `/v1/public/chatbots/${slug}/conversations`, headers: { origin, 'content-type': body.type }, payload: body.payload, remoteAddress: ip });

function expectProblem(response: LightMyRequestResponse, status: number, code: string, label: string) {
  expect(response.statusCode, `${label}: ${response.body}`).toBe(status);
  expect(json(response).code, label).toBe(code);
}

describe('starting a visit with a bad body', () => {
  it('from a foreign origin answers 403 origin_not_allowed, readable by no page, whatever the body', async () => {
    const before = await t.count('visitors');
    for (const [i, body] of BAD_BODIES.entries()) {
      const response = await start(body, FOREIGN, `192.0.2.${10 + i}`);
      expectProblem(response, 403, 'origin_not_allowed', body.name);
      expect(response.headers['access-control-allow-origin'], body.name).toBeUndefined();
    }
    expect(await t.count('visitors')).toBe(before);
  });

  it('from the chatbot\'s own origin is told what is wrong with the body', async () => {
    const statuses = [];
    for (const [i, body] of BAD_BODIES.entries()) statuses.push((await start(body, SHOP, `192.0.2.${30 + i}`)).statusCode);
    expect(statuses).toEqual([400, 422, 422, 422, 415, 415]);
  });

  it('counts against the address, so the sixth within the minute answers 429 and a good body after it too', async () => {
    const ip = '198.51.100.7';
    const answers = [];
    for (let i = 0; i < 8; i += 1) answers.push((await start(BAD_BODIES[i % BAD_BODIES.length]!, SHOP, ip)).statusCode);
    expect(answers.slice(0, 5).every((status) => status >= 400 && status < 429)).toBe(true);
    expect(answers.slice(5)).toEqual([429, 429, 429]);
    const good = await start({ type: 'application/json', payload: '{"visitor_id": "v-1"}' }, SHOP, ip);
    expectProblem(good, 429, 'rate_limited', 'a good body after the limit');
    expect(good.headers['retry-after']).toBeDefined();
    // Another address is not held by this one's refusals.
    expect((await start({ type: 'application/json', payload: '{"visitor_id": "v-2"}' }, SHOP, '198.51.100.8')).statusCode).toBe(201);
  });
});
