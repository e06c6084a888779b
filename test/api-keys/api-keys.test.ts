import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { base62Checksum } from '../../src/features/api-keys/key-format.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

// §3.3, §8, §12 "API keys": a key per chatbot, shown once, stored as a hash; a forged one is
// refused without the database; a revoked one on the very next request; it reaches only its
// chatbot's conversations, for the end user each request names.

let fake: FakeLlm;
let t: TestApp;
let owner: RegisteredUser;
let bot: { id: string; slug: string };
let otherBot: { id: string; slug: string };

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
  owner = await registerUser(t);
  bot = await createChatbot(t, owner, { name: 'Support', system_prompt: 'You answer for Acme support.' });
  otherBot = await createChatbot(t, owner, { name: 'Sales' });
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const asKey = (key: string) => bearer(key);

describe('creating, listing and revoking keys', () => {
  it('shows the key once, in the documented format, and stores only a hash and the prefix', async () => {
    const created = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/keys`, headers: bearer(owner.accessToken), payload: { name: 'backend' } });
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json();
    expect(body.key).toMatch(/^parley_sk_[0-9A-Za-z]{30}[0-9A-Za-z]{6}$/);
    expect(base62Checksum(body.key.slice(10, 40))).toBe(body.key.slice(40));
    expect(body.prefix).toBe(body.key.slice(0, 14));
    expect(body).toMatchObject({ name: 'backend', chatbot_id: bot.id, last_used_at: null });

    const listed = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/keys`, headers: bearer(owner.accessToken) });
    expect(listed.statusCode).toBe(200);
    const row = listed.json().data.find((k: { id: string }) => k.id === body.id);
    expect(row).toMatchObject({ prefix: body.prefix, name: 'backend' });
    expect(listed.body).not.toContain(body.key);
    const stored = await t.database.sql.query<{ hash: string; prefix: string }>('SELECT hash, prefix FROM api_keys WHERE id = $1', [body.id]);
    expect(stored[0]!.prefix).toBe(body.prefix);
    expect(JSON.stringify(stored)).not.toContain(body.key.slice(14));
  });

  it('keys are the owner’s: another user answers 404 and creates nothing', async () => {
    const stranger = await registerUser(t);
    const before = await t.count('api_keys');
    for (const request of [
      { method: 'POST' as const, url: `/v1/chatbots/${bot.id}/keys`, payload: {} },
      { method: 'GET' as const, url: `/v1/chatbots/${bot.id}/keys` },
    ]) {
      const response = await t.request({ ...request, headers: bearer(stranger.accessToken) });
      expect(response.statusCode, request.method).toBe(404);
    }
    const key = await createApiKey(t, owner, bot.id);
    const removed = await t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}/keys/${key.id}`, headers: bearer(stranger.accessToken) });
    expect(removed.statusCode).toBe(404);
    expect(await t.count('api_keys')).toBe(before + 1);
  });

  it('a revoked key is refused on the very next request', async () => {
    const key = await createApiKey(t, owner, bot.id);
    const ok = await t.request({ method: 'GET', url: '/v1/conversations?user=dana', headers: asKey(key.key) });
    expect(ok.statusCode, ok.body).toBe(200);
    const removed = await t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}/keys/${key.id}`, headers: bearer(owner.accessToken) });
    expect(removed.statusCode).toBe(204);
    const refused = await t.request({ method: 'GET', url: '/v1/conversations?user=dana', headers: asKey(key.key) });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().code).toBe('invalid_token');
  });

  it('a revoked key is refused by another instance sharing the database at once', async () => {
    const second = await createTestApp(fakeLlmEnv(fake.url), { sharedWith: t });
    try {
      const key = await createApiKey(t, owner, bot.id);
      expect((await second.request({ method: 'GET', url: '/v1/conversations?user=x', headers: asKey(key.key) })).statusCode).toBe(200);
      await t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}/keys/${key.id}`, headers: bearer(owner.accessToken) });
      expect((await second.request({ method: 'GET', url: '/v1/conversations?user=x', headers: asKey(key.key) })).statusCode).toBe(401);
    } finally {
      await second.close();
    }
  });
});

// /v1/chat/completions checks a key it has seen lately inside the answer's first statement
// rather than by a read of its own: revocation must hold there exactly as elsewhere.
describe('revoking a key the OpenAI endpoint has just used', () => {
  const complete = (app: TestApp, key: string, slug: string, content = 'hi') =>
    app.request({ method: 'POST', url: '/v1/chat/completions', headers: asKey(key), payload: { model: slug, user: 'dana', messages: [{ role: 'user', content }] } });
  const usageOf = async (chatbotId: string) => {
    const rows = await t.database.sql.query<{ messages: number | null; tokens: number | null }>(
      'SELECT sum(messages)::int AS messages, sum(prompt_tokens + completion_tokens)::int AS tokens FROM usage_daily WHERE chatbot_id = $1',
      [chatbotId],
    );
    return { messages: Number(rows[0]?.messages ?? 0), tokens: Number(rows[0]?.tokens ?? 0) };
  };

  it('a deleted key is refused on the next completion, on this instance and another: 401, no model call, no usage', async () => {
    const second = await createTestApp(fakeLlmEnv(fake.url), { sharedWith: t });
    try {
      const desk = await createChatbot(t, owner, { name: 'Revoked desk' });
      const key = await createApiKey(t, owner, desk.id);
      // Both instances have now seen the key valid.
      expect((await complete(t, key.key, desk.slug)).statusCode).toBe(200);
      expect((await complete(second, key.key, desk.slug)).statusCode).toBe(200);
      await vi.waitFor(async () => expect((await usageOf(desk.id)).messages).toBe(2));
      const removed = await t.request({ method: 'DELETE', url: `/v1/chatbots/${desk.id}/keys/${key.id}`, headers: bearer(owner.accessToken) });
      expect(removed.statusCode).toBe(204);
      const calls = fake.requests.length;
      const usage = await usageOf(desk.id);
      for (const app of [t, second, t]) {
        const refused = await complete(app, key.key, desk.slug, 'still there?');
        expect(refused.statusCode, refused.body).toBe(401);
        expect(refused.json().error).toMatchObject({ code: 'invalid_api_key', type: 'authentication_error' });
      }
      expect(fake.requests.length).toBe(calls);
      // Anything a refused call had counted would be written within a moment: give it that moment.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await usageOf(desk.id)).toEqual(usage);
    } finally {
      await second.close();
    }
  });

  it('a deactivated owner\'s key is refused on the next completion', async () => {
    const someone = await registerUser(t);
    const theirs = await createChatbot(t, someone, { name: 'Their desk' });
    const key = await createApiKey(t, someone, theirs.id);
    const ask = () => t.request({ method: 'POST', url: '/v1/chat/completions', headers: asKey(key.key), payload: { model: theirs.slug, messages: [{ role: 'user', content: 'hi' }] } });
    expect((await ask()).statusCode).toBe(200);
    await t.database.sql.query('UPDATE users SET is_active = false WHERE id = $1', [someone.id]);
    const calls = fake.requests.length;
    expect((await ask()).statusCode).toBe(401);
    expect(fake.requests.length).toBe(calls);
    await t.database.sql.query('UPDATE users SET is_active = true WHERE id = $1', [someone.id]);
    expect((await ask()).statusCode).toBe(200);
  });
});

describe('refusing keys that are not keys', () => {
  it('a forged or mistyped key is 401 invalid_token', async () => {
    const key = await createApiKey(t, owner, bot.id);
    const flipped = key.key.slice(0, 20) + (key.key[20] === 'a' ? 'b' : 'a') + key.key.slice(21);
    for (const token of [flipped, 'parley_sk_short', `${key.key}x`, key.key.slice(0, -1)]) {
      const response = await t.request({ method: 'GET', url: '/v1/conversations?user=dana', headers: asKey(token) });
      expect(response.statusCode, token).toBe(401);
      expect(response.json().code).toBe('invalid_token');
    }
  });

  it('a key reaches nothing but its chatbot’s conversations and chat: chatbot settings and keys are 403', async () => {
    const key = await createApiKey(t, owner, bot.id);
    for (const [method, url] of [
      ['GET', '/v1/chatbots'],
      ['GET', `/v1/chatbots/${bot.id}`],
      ['PATCH', `/v1/chatbots/${bot.id}`],
      ['GET', `/v1/chatbots/${bot.id}/keys`],
      ['POST', `/v1/chatbots/${bot.id}/keys`],
      ['DELETE', `/v1/chatbots/${bot.id}/keys/${key.id}`],
      ['GET', '/v1/auth/me'],
      ['GET', '/v1/profile'],
      ['GET', '/v1/usage'],
      ['GET', `/v1/chatbots/${bot.id}/conversations`],
    ] as const) {
      const response = await t.request({ method, url, headers: asKey(key.key), payload: method === 'GET' || method === 'DELETE' ? undefined : { name: 'x' } });
      expect(response.statusCode, `${method} ${url}`).toBe(403);
    }
    expect((await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/keys`, headers: bearer(owner.accessToken) })).json().data.length).toBeGreaterThan(0);
  });
});

describe('end users of a key', () => {
  it('conversations are per (chatbot, user): one end user never sees another’s, nor the owner’s', async () => {
    const key = await createApiKey(t, owner, bot.id);
    fake.setReply(() => 'Hello from Acme');
    const started = await t.request({ method: 'POST', url: '/v1/chat', headers: asKey(key.key), payload: { message: 'Hi, I am Ana', user: 'ana@example.com' } });
    expect(started.statusCode, started.body).toBe(201);
    const { conversation_id: anaConversation, reply } = started.json();
    expect(reply.content).toBe('Hello from Acme');

    const ana = await t.request({ method: 'GET', url: `/v1/conversations?user=ana@example.com`, headers: asKey(key.key) });
    expect(ana.json().data.map((c: { id: string }) => c.id)).toEqual([anaConversation]);
    const ben = await t.request({ method: 'GET', url: `/v1/conversations?user=ben`, headers: asKey(key.key) });
    expect(ben.json().data).toEqual([]);
    for (const url of [`/v1/conversations/${anaConversation}?user=ben`, `/v1/conversations/${anaConversation}/messages?user=ben`]) {
      expect((await t.request({ method: 'GET', url, headers: asKey(key.key) })).statusCode, url).toBe(404);
    }
    const benSends = await t.request({ method: 'POST', url: `/v1/conversations/${anaConversation}/messages`, headers: asKey(key.key), payload: { content: 'mine now', user: 'ben' } });
    expect(benSends.statusCode).toBe(404);
    // The owner's own list is theirs alone; the end user's conversation is in the owner's tenant all the same.
    const own = await t.request({ method: 'GET', url: '/v1/conversations', headers: bearer(owner.accessToken) });
    expect(own.json().data.map((c: { id: string }) => c.id)).not.toContain(anaConversation);
    const row = await t.database.sql.query<{ user_id: string; chatbot_id: string }>('SELECT user_id, chatbot_id FROM conversations WHERE id = $1', [anaConversation]);
    expect(row[0]).toEqual({ user_id: owner.id, chatbot_id: bot.id });

    const more = await t.request({ method: 'POST', url: `/v1/conversations/${anaConversation}/messages`, headers: asKey(key.key), payload: { content: 'And again', user: 'ana@example.com' } });
    expect(more.statusCode, more.body).toBe(201);
    const messages = await t.request({ method: 'GET', url: `/v1/conversations/${anaConversation}/messages?user=ana@example.com`, headers: asKey(key.key) });
    expect(messages.json().data.map((m: { content: string }) => m.content)).toEqual(['Hi, I am Ana', 'Hello from Acme', 'And again', 'Hello from Acme']);
    // The chatbot's own instructions reached the model.
    expect(JSON.stringify(fake.requests.at(-1)!.body)).toContain('You answer for Acme support.');
    // The owner reads it in the chatbot's inbox, named by the end user.
    const inbox = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations`, headers: bearer(owner.accessToken) });
    expect(inbox.statusCode, inbox.body).toBe(200);
    const listed = inbox.json().data.find((r: { conversation_id: string }) => r.conversation_id === anaConversation);
    expect(listed.visitor.visitor_id).toBe('ana@example.com');
  });

  it('an Idempotency-Key is each end user’s own: the same key from two end users runs two turns', async () => {
    const key = await createApiKey(t, owner, bot.id);
    fake.setReply((request) => `echo ${JSON.stringify(request.body).length}`);
    const send = (user: string, message: string) =>
      t.request({ method: 'POST', url: '/v1/chat', headers: { ...asKey(key.key), 'idempotency-key': 'order-7' }, payload: { message, user } });
    const first = await send('hana', 'first from hana');
    const second = await send('ivan', 'first from ivan');
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.json().conversation_id).not.toBe(first.json().conversation_id);
    const replay = await send('hana', 'first from hana');
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json().conversation_id).toBe(first.json().conversation_id);
    fake.setReply(() => 'Hello from Acme');
  });

  it('a renamed slug is seen by the next request: the old one is an unknown model, the new one answers', async () => {
    const renamed = await createChatbot(t, owner, { name: 'Renamed desk' });
    const key = await createApiKey(t, owner, renamed.id);
    const complete = (model: string) =>
      t.request({ method: 'POST', url: '/v1/chat/completions', headers: asKey(key.key), payload: { model, messages: [{ role: 'user', content: 'hi' }] } });
    expect((await complete(renamed.slug)).statusCode).toBe(200);
    const patched = await t.request({ method: 'PATCH', url: `/v1/chatbots/${renamed.id}`, headers: bearer(owner.accessToken), payload: { slug: 'front-desk-2' } });
    expect(patched.statusCode, patched.body).toBe(200);
    const old = await complete(renamed.slug);
    expect(old.statusCode).toBe(404);
    expect(old.json().error.code).toBe('model_not_found');
    expect((await complete('front-desk-2')).statusCode).toBe(200);
  });

  it('deleting the chatbot ends its keys', async () => {
    const doomed = await createChatbot(t, owner, { name: 'Doomed' });
    const key = await createApiKey(t, owner, doomed.id);
    expect((await t.request({ method: 'GET', url: '/v1/conversations?user=joe', headers: asKey(key.key) })).statusCode).toBe(200);
    expect((await t.request({ method: 'DELETE', url: `/v1/chatbots/${doomed.id}`, headers: bearer(owner.accessToken) })).statusCode).toBe(204);
    expect((await t.request({ method: 'GET', url: '/v1/conversations?user=joe', headers: asKey(key.key) })).statusCode).toBe(401);
  });

  it('another key of the same chatbot sees the same end user’s conversations; a key of another chatbot sees none (404)', async () => {
    const first = await createApiKey(t, owner, bot.id);
    const second = await createApiKey(t, owner, bot.id);
    const elsewhere = await createApiKey(t, owner, otherBot.id);
    const created = await t.request({ method: 'POST', url: '/v1/conversations', headers: asKey(first.key), payload: { user: 'carla', title: 'Order 7' } });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id;
    expect(created.json().chatbot_id).toBe(bot.id);
    expect((await t.request({ method: 'GET', url: `/v1/conversations/${id}?user=carla`, headers: asKey(second.key) })).statusCode).toBe(200);
    expect((await t.request({ method: 'GET', url: `/v1/conversations/${id}?user=carla`, headers: asKey(elsewhere.key) })).statusCode).toBe(404);
    expect((await t.request({ method: 'DELETE', url: `/v1/conversations/${id}?user=carla`, headers: asKey(elsewhere.key) })).statusCode).toBe(404);
    // Naming the other chatbot does not reach it either.
    const crossing = await t.request({ method: 'POST', url: '/v1/conversations', headers: asKey(first.key), payload: { user: 'carla', chatbot_id: otherBot.id } });
    expect(crossing.statusCode).toBe(404);
    expect((await t.request({ method: 'GET', url: `/v1/conversations/${id}`, headers: bearer(owner.accessToken) })).statusCode).toBe(200);
  });

  it('`user` is required with a key and must match the pattern: 422, nothing stored, no model call', async () => {
    const key = await createApiKey(t, owner, bot.id);
    const before = { conversations: await t.count('conversations'), messages: await t.count('messages'), calls: fake.requests.length };
    const cases = [
      { method: 'POST' as const, url: '/v1/chat', payload: { message: 'hi' } },
      { method: 'POST' as const, url: '/v1/chat', payload: { message: 'hi', user: 'has space' } },
      { method: 'POST' as const, url: '/v1/chat', payload: { message: 'hi', user: 'x'.repeat(129) } },
      { method: 'POST' as const, url: '/v1/chat', payload: { message: 'hi', user: 'ünï' } },
      { method: 'POST' as const, url: '/v1/chat', payload: { message: 'hi', user: '' } },
      { method: 'POST' as const, url: '/v1/conversations', payload: {} },
      { method: 'GET' as const, url: '/v1/conversations' },
      { method: 'GET' as const, url: '/v1/conversations?user=a%20b' },
    ];
    for (const request of cases) {
      const response = await t.request({ ...request, headers: asKey(key.key) });
      expect(response.statusCode, JSON.stringify(request)).toBe(422);
      expect(response.json().errors[0].path).toContain('user');
    }
    expect({ conversations: await t.count('conversations'), messages: await t.count('messages'), calls: fake.requests.length }).toEqual(before);
  });

  it('turns of one end user are limited (RATE_LIMIT_API_KEY_USER) while another end user goes on', async () => {
    const limited = await createTestApp(fakeLlmEnv(fake.url, { RATE_LIMIT_API_KEY_USER: '2/1m' }));
    try {
      const user = await registerUser(limited);
      const chatbot = await createChatbot(limited, user);
      const key = await createApiKey(limited, user, chatbot.id);
      const send = (who: string) => limited.request({ method: 'POST', url: '/v1/chat', headers: asKey(key.key), payload: { message: 'hello', user: who } });
      expect((await send('dora')).statusCode).toBe(201);
      expect((await send('dora')).statusCode).toBe(201);
      const refused = await send('dora');
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await send('eli')).statusCode).toBe(201);
    } finally {
      await limited.close();
    }
  });

  it('every request of one key is limited (RATE_LIMIT_API_KEY), whichever end user it names', async () => {
    const limited = await createTestApp(fakeLlmEnv(fake.url, { RATE_LIMIT_API_KEY: '3/1m' }));
    try {
      const user = await registerUser(limited);
      const chatbot = await createChatbot(limited, user);
      const key = await createApiKey(limited, user, chatbot.id);
      const other = await createApiKey(limited, user, chatbot.id);
      for (const who of ['a', 'b', 'c']) expect((await limited.request({ method: 'GET', url: `/v1/conversations?user=${who}`, headers: asKey(key.key) })).statusCode).toBe(200);
      expect((await limited.request({ method: 'GET', url: '/v1/conversations?user=d', headers: asKey(key.key) })).statusCode).toBe(429);
      expect((await limited.request({ method: 'GET', url: '/v1/conversations?user=d', headers: asKey(other.key) })).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('the chatbot’s monthly token budget holds key traffic too (429 quota_exceeded, no model call)', async () => {
    const user = await registerUser(t);
    const chatbot = await createChatbot(t, user, { token_budget_monthly: 1 });
    const key = await createApiKey(t, user, chatbot.id);
    expect((await t.request({ method: 'POST', url: '/v1/chat', headers: asKey(key.key), payload: { message: 'first', user: 'fay' } })).statusCode).toBe(201);
    const calls = fake.requests.length;
    const refused = await t.request({ method: 'POST', url: '/v1/chat', headers: asKey(key.key), payload: { message: 'second', user: 'fay' } });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().code).toBe('quota_exceeded');
    expect(fake.requests.length).toBe(calls);
  });

  it('last use is recorded without a write per call, and shows in the list after a flush', async () => {
    const key = await createApiKey(t, owner, bot.id);
    for (let i = 0; i < 5; i++) await t.request({ method: 'GET', url: '/v1/conversations?user=gil', headers: asKey(key.key) });
    const stored = await t.database.sql.query<{ last_used_at: Date | null }>('SELECT last_used_at FROM api_keys WHERE id = $1', [key.id]);
    expect(stored[0]!.last_used_at).toBeNull();
    // Shutdown flushes what the periodic job would have written.
    const second = await createTestApp(fakeLlmEnv(fake.url), { sharedWith: t });
    await second.request({ method: 'GET', url: '/v1/conversations?user=gil', headers: asKey(key.key) });
    await second.close();
    const listed = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/keys`, headers: bearer(owner.accessToken) });
    expect(listed.json().data.find((k: { id: string }) => k.id === key.id).last_used_at).not.toBeNull();
  });
});
