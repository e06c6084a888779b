// A visitor's page on another site calls /v1/ai-sdk/chat from the browser (§7, §8): the
// preflight, which names no chatbot, is answered for any origin; the request itself is held to
// the chatbot's allowed_origins — the allowed site reads the stream, any other is refused (403,
// no CORS headers), nothing stored and the model never called.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startVisit } from '../helpers/public.js';

const SHOP = 'https://shop.example';
let llm: FakeLlm;
let t: TestApp;
let visitorToken: string;

beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(llm.url));
  const owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Shop helper', is_public: true, allowed_origins: [SHOP] });
  visitorToken = (await startVisit(t, bot.slug, { visitorId: 'browser-visitor', origin: SHOP })).visitor_token;
});
afterAll(async () => {
  await t?.close();
  await llm?.close();
});

const turn = (origin: string) =>
  t.request({
    method: 'POST',
    url: '/v1/ai-sdk/chat',
    headers: { ...bearer(visitorToken), origin },
    payload: { id: `chat-${origin}`, trigger: 'submit-message', messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'Do you ship abroad?' }] }] },
  });

it('answers the preflight for any origin, with what the transport sends', async () => {
  for (const url of ['/v1/ai-sdk/chat', '/v1/ai-sdk/chat/some-chat/stream']) {
    const preflight = await t.request({
      method: 'OPTIONS',
      url,
      headers: { origin: SHOP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.statusCode, url).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(SHOP);
    expect(String(preflight.headers['access-control-allow-headers'])).toContain('authorization');
  }
});

it('the allowed site reads the stream; another site is refused with nothing stored', async () => {
  const allowed = await turn(SHOP);
  expect(allowed.statusCode, allowed.body).toBe(200);
  expect(allowed.headers['access-control-allow-origin']).toBe(SHOP);
  expect(allowed.body).toContain('"type":"finish"');

  const before = { messages: await t.count('messages'), calls: llm.requests.length };
  const foreign = await turn('https://evil.example');
  expect(foreign.statusCode).toBe(403);
  expect(foreign.json().code).toBe('origin_not_allowed');
  expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  expect({ messages: await t.count('messages'), calls: llm.requests.length }).toEqual(before);
});
