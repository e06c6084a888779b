import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, listen, parseSse, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

// §2 (another tenant's ids answer 404), §3, §10 Isolation: user B can neither see, change nor
// use anything of user A's, and nothing of A's ever reaches B's prompt.

const A_KNOWLEDGE = 'The vault combination is ZEBRA-7781 and only Alice knows it.';
const A_FIRST = 'Alice private note: quokka-42 lives in the vault';
const A_SECOND = 'Alice asks about the vault combination again';
const TABLES = ['chatbots', 'conversations', 'messages', 'knowledge_documents', 'knowledge_chunks', 'idempotency_keys'];

let fake: FakeLlm;
let t: TestApp;
let alice: RegisteredUser;
let bob: RegisteredUser;
let ids: { bot: string; doc: string; conversation: string; userMessage: string; reply: string };

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
  [alice, bob] = [await registerUser(t), await registerUser(t)];
  const bot = await createChatbot(t, alice, { name: 'Alice vault bot', system_prompt: 'You guard the vault of Alice.' });
  const doc = await t.request({
    method: 'POST',
    url: `/v1/chatbots/${bot.id}/knowledge`,
    headers: bearer(alice.accessToken),
    payload: { title: 'Vault', content: A_KNOWLEDGE },
  });
  expect(doc.statusCode, doc.body).toBe(201);
  const conversation = await createConversation(t, alice, { chatbot_id: bot.id, context: 'Alice conversation context: pelican' });
  const first = await sendMessage(t, alice, conversation.id, { content: A_FIRST });
  expect(first.statusCode, first.body).toBe(201);
  const second = await sendMessage(t, alice, conversation.id, { content: A_SECOND });
  expect(second.statusCode, second.body).toBe(201);
  ids = {
    bot: bot.id,
    doc: json(doc).id,
    conversation: conversation.id,
    userMessage: json(first).user_message.id,
    reply: json(first).reply.id,
  };
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

function expectNotFound(response: LightMyRequestResponse, label: string) {
  expect(response.statusCode, `${label}: ${response.body}`).toBe(404);
  expect(response.headers['content-type'], label).toMatch(/^application\/problem\+json/);
  expect(json(response).code, label).toBe('not_found');
}

interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  payload?: object;
  headers?: Record<string, string>;
}

/** Every route that takes one of A's ids, as B would call it. */
function everyRoute(id: typeof ids): Call[] {
  return [
    { method: 'GET', url: `/v1/chatbots/${id.bot}` },
    { method: 'PATCH', url: `/v1/chatbots/${id.bot}`, payload: { name: 'Hijacked', is_public: true } },
    { method: 'DELETE', url: `/v1/chatbots/${id.bot}` },
    { method: 'POST', url: `/v1/chatbots/${id.bot}/knowledge`, payload: { title: 'Planted', content: 'Planted by Bob' } },
    { method: 'GET', url: `/v1/chatbots/${id.bot}/knowledge` },
    { method: 'DELETE', url: `/v1/chatbots/${id.bot}/knowledge/${id.doc}` },
    { method: 'GET', url: `/v1/conversations/${id.conversation}` },
    { method: 'PATCH', url: `/v1/conversations/${id.conversation}`, payload: { title: 'Hijacked', status: 'completed' } },
    { method: 'DELETE', url: `/v1/conversations/${id.conversation}` },
    { method: 'GET', url: `/v1/conversations/${id.conversation}/messages` },
    { method: 'DELETE', url: `/v1/conversations/${id.conversation}/messages` },
    { method: 'POST', url: `/v1/conversations/${id.conversation}/messages`, payload: { content: 'Bob was here' } },
    { method: 'POST', url: `/v1/conversations/${id.conversation}/messages`, payload: { content: 'Bob streams', stream: true } },
    { method: 'POST', url: `/v1/conversations/${id.conversation}/messages`, payload: { content: 'Bob accepts SSE' }, headers: { accept: 'text/event-stream' } },
    { method: 'POST', url: `/v1/conversations/${id.conversation}/messages`, payload: { content: 'Bob retries' }, headers: { 'idempotency-key': 'bob-key-1' } },
    { method: 'POST', url: `/v1/conversations/${id.conversation}/regenerate`, payload: {} },
    { method: 'POST', url: `/v1/conversations/${id.conversation}/regenerate`, payload: { stream: true } },
    { method: 'POST', url: `/v1/conversations/${id.conversation}/stop`, payload: {} },
    { method: 'POST', url: '/v1/chat', payload: { message: 'Bob continues', conversation_id: id.conversation } },
    { method: 'POST', url: '/v1/chat', payload: { message: 'Bob streams on', conversation_id: id.conversation, stream: true } },
    { method: 'POST', url: '/v1/chat', payload: { message: 'Bob uses her bot', chatbot_id: id.bot } },
    { method: 'PUT', url: `/v1/messages/${id.reply}/feedback`, payload: { rating: 'dislike', comment: 'Bob' } },
    { method: 'PUT', url: `/v1/messages/${id.userMessage}/feedback`, payload: { rating: 'like' } },
    { method: 'GET', url: `/v1/conversations?chatbot_id=${id.bot}` },
  ];
}

const send = (call: Call, headers: Record<string, string>) =>
  t.request({ method: call.method, url: call.url, headers: { ...headers, ...call.headers }, ...(call.payload ? { payload: call.payload } : {}) });

async function aliceView() {
  const get = async (url: string) => {
    const response = await t.request({ method: 'GET', url, headers: bearer(alice.accessToken) });
    expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    return json(response);
  };
  const counts: Record<string, number> = {};
  for (const table of TABLES) counts[table] = await t.count(table);
  return {
    counts,
    bot: await get(`/v1/chatbots/${ids.bot}`),
    knowledge: await get(`/v1/chatbots/${ids.bot}/knowledge`),
    conversation: await get(`/v1/conversations/${ids.conversation}`),
    messages: await get(`/v1/conversations/${ids.conversation}/messages`),
    list: await get('/v1/conversations'),
  };
}

describe('user B with user A\'s ids', () => {
  it('gets 404 not_found from every route, changes nothing and never reaches the model', async () => {
    const before = await aliceView();
    const upperCased = Object.fromEntries(Object.entries(ids).map(([key, value]) => [key, value.toUpperCase()])) as typeof ids;
    const llmRequests = fake.requests.length;

    for (const call of [...everyRoute(ids), ...everyRoute(upperCased)]) {
      expectNotFound(await send(call, bearer(bob.accessToken)), `${call.method} ${call.url}`);
    }

    expect(fake.requests.length).toBe(llmRequests);
    expect(await aliceView()).toEqual(before);
    // B's own lists show nothing of A's.
    const bobsBots = json(await t.request({ method: 'GET', url: '/v1/chatbots', headers: bearer(bob.accessToken) })).data;
    expect(bobsBots.map((bot: { id: string }) => bot.id)).not.toContain(ids.bot);
    const bobsConversations = json(await t.request({ method: 'GET', url: '/v1/conversations', headers: bearer(bob.accessToken) })).data;
    expect(bobsConversations.map((c: { id: string }) => c.id)).not.toContain(ids.conversation);
    expectNotFound(await t.request({ method: 'GET', url: '/v1/conversations/latest', headers: bearer(bob.accessToken) }), 'latest');
  });

  it('gets 404 for A\'s document through B\'s own chatbot', async () => {
    const own = await createChatbot(t, bob, { name: 'Bob bot' });
    const response = await t.request({ method: 'DELETE', url: `/v1/chatbots/${own.id}/knowledge/${ids.doc}`, headers: bearer(bob.accessToken) });
    expectNotFound(response, 'cross-chatbot document delete');
    expect(json(await t.request({ method: 'GET', url: `/v1/chatbots/${ids.bot}/knowledge`, headers: bearer(alice.accessToken) })).data).toHaveLength(1);
  });

  it('leaves A able to carry on afterwards (A\'s conversation is not left busy)', async () => {
    const response = await sendMessage(t, alice, ids.conversation, { content: 'Alice is still here' });
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response).reply.status).toBe('complete');
  });
});

describe('malformed ids and missing tokens', () => {
  const malformed: Array<[string, string]> = [
    ['not-a-uuid', 'not-a-uuid'],
    ['99 characters', 'a'.repeat(99)],
    ['300 characters', 'a'.repeat(300)],
    ['SQL', "1' OR '1'='1"],
    ['almost a UUID', '0190f5a0-0000-7000-8000-00000000000g'],
    ['a NUL byte', '%00'],
    ['a path traversal', '..%2F..%2Fetc'],
  ];

  it.each(malformed)('answers 404 not_found (never 500) to an id that is %s, on every route', async (_label, raw) => {
    const id = raw.includes('%') ? raw : encodeURIComponent(raw);
    const bad = { bot: id, doc: id, conversation: id, userMessage: id, reply: id };
    const llmRequests = fake.requests.length;
    for (const call of everyRoute(bad)) {
      if (call.url.startsWith('/v1/chat') && call.payload && 'conversation_id' in call.payload) {
        // In a body the id arrives as sent.
        const payload = { ...call.payload, conversation_id: raw.slice(0, 100) };
        expectNotFound(await send({ ...call, payload }, bearer(alice.accessToken)), `${call.url} ${JSON.stringify(payload)}`);
        continue;
      }
      if (call.url === '/v1/chat') {
        const payload = { ...call.payload, chatbot_id: raw.slice(0, 100) };
        expectNotFound(await send({ ...call, payload }, bearer(alice.accessToken)), `${call.url} ${JSON.stringify(payload)}`);
        continue;
      }
      if (call.url.startsWith('/v1/conversations?')) continue;
      expectNotFound(await send(call, bearer(alice.accessToken)), `${call.method} ${call.url}`);
    }
    expect(fake.requests.length).toBe(llmRequests);
  });

  it('answers a broken percent-encoding in an id with a problem+json 4xx carrying x-request-id', async () => {
    for (const url of ['/v1/chatbots/%zz', `/v1/conversations/${ids.conversation.slice(0, 30)}%E0%A4%A`]) {
      const response = await t.request({ method: 'GET', url, headers: bearer(alice.accessToken) });
      expect(response.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, url).toBeLessThan(500);
      expect(response.headers['content-type'], `${url}: ${response.body}`).toMatch(/^application\/problem\+json/);
      expect(response.headers['x-request-id'], url).toEqual(expect.any(String));
    }
  });

  it('answers 401 to every route without a token', async () => {
    const llmRequests = fake.requests.length;
    const before = await aliceView();
    for (const call of everyRoute(ids)) {
      const response = await send(call, {});
      expect(response.statusCode, `${call.method} ${call.url}`).toBe(401);
      expect(json(response).code).toBe('unauthorized');
    }
    for (const call of everyRoute(ids)) {
      const response = await send(call, { authorization: 'Bearer not.a.token' });
      expect(response.statusCode, `${call.method} ${call.url}`).toBe(401);
    }
    expect(fake.requests.length).toBe(llmRequests);
    expect(await aliceView()).toEqual(before);
  });
});

describe('what the model sees', () => {
  it('never puts A\'s messages, context or knowledge in B\'s prompt', async () => {
    // A's own prompt does carry A's data, so the check below can fail.
    const alicePrompts = fake.requests.map((request) => JSON.stringify(request.messages)).join('\n');
    expect(alicePrompts).toContain('ZEBRA-7781');
    expect(alicePrompts).toContain('quokka-42');

    const secrets = ['ZEBRA-7781', A_KNOWLEDGE, A_FIRST, A_SECOND, 'quokka-42', 'pelican', 'You guard the vault of Alice'];
    const from = fake.requests.length;
    const conversation = await createConversation(t, bob);
    const plain = await sendMessage(t, bob, conversation.id, { content: 'What is the vault combination? Tell me about quokka-42.' });
    expect(plain.statusCode, plain.body).toBe(201);
    // Streamed over a real socket, as browsers and SDKs do.
    const base = await listen(t);
    const streamed = await fetch(`${base}/v1/conversations/${conversation.id}/messages`, {
      method: 'POST',
      headers: { ...bearer(bob.accessToken), 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Who guards the vault of Alice?', stream: true }),
    });
    expect(streamed.status).toBe(200);
    const events = parseSse(await streamed.text());
    expect(events.at(-1)?.event).toBe('message.end');
    const oneCall = await t.request({
      method: 'POST',
      url: '/v1/chat',
      headers: bearer(bob.accessToken),
      payload: { message: 'vault combination ZEBRA' },
    });
    expect(oneCall.statusCode, oneCall.body).toBe(201);

    const bobRequests = fake.requests.slice(from);
    expect(bobRequests).toHaveLength(3);
    for (const request of bobRequests) {
      const prompt = request.messages.map((message) => message.content).join('\n');
      for (const secret of secrets) {
        // B typed some of these words; only A's text and material must not appear.
        if (secret === 'quokka-42' || secret === 'ZEBRA-7781') continue;
        expect(prompt).not.toContain(secret);
      }
      expect(prompt).not.toContain('only Alice knows it');
      expect(prompt).not.toContain('lives in the vault');
    }
    // B's replies came from the model, about B's own words only.
    expect(json(plain).reply.content).toContain('What is the vault combination?');
  });
});
