// The AI SDK channel for API keys and visitors (§8, §7): a key names its end user with `user`
// (body, or `?user=` on resume), each end user's chat id naming their own conversation; a
// visitor talks with their visitor token. Bad keys and bad end users are refused before the
// stream with nothing stored and the model never called.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, fakeLlmEnv, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, visitorMessages } from '../helpers/public.js';
import { type Chunk, client, CLIENTS, collect, conversationOf, messageIdOf, textOf, turn, until, userMessage } from './clients.js';

let llm: FakeLlm;
let t: TestApp;
let base: string;
let owner: RegisteredUser;
let bot: { id: string; slug: string };
let key: { id: string; key: string; prefix: string };

beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(llm.url, { RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_VISITOR: '10000/1m' }));
  base = await listen(t);
  owner = await registerUser(t);
  bot = await createChatbot(t, owner, { name: 'Keyed bot', is_public: true, system_prompt: 'Answer as the keyed bot.' });
  key = await createApiKey(t, owner.accessToken, bot.id);
});
afterEach(() => llm.reset());
afterAll(async () => {
  await t?.close();
  await llm?.close();
});

const chatId = () => `chat_${randomBytes(6).toString('hex')}`;
const ownerMessages = async (conversationId: string) =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}/messages`, headers: bearer(owner.accessToken) })).data as Array<{ id: string; content: string; status: string }>;
const keyClient = (name: 'ai6' | 'ai5', user: string, secret = key.key) => client(name, base, { headers: bearer(secret), body: { user }, resumeQuery: `user=${encodeURIComponent(user)}` });

describe('an API key with `user`', () => {
  it.each(CLIENTS)("%s: a whole turn for an end user, in the key's chatbot, stored where the owner reads it", async (name) => {
    const result = await turn(keyClient(name, 'alice@example.com'), chatId(), [userMessage('Hi from the SaaS')]);
    expect(result.text).toBe('You said: Hi from the SaaS');
    expect(llm.requests[0]!.messages[0]!.content).toContain('Answer as the keyed bot.');
    const conversationId = conversationOf(result.chunks);
    const conversation = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}`, headers: bearer(owner.accessToken) }));
    expect(conversation.chatbot_id).toBe(bot.id);
    const stored = await ownerMessages(conversationId);
    expect(stored.map((m) => m.content)).toEqual(['Hi from the SaaS', 'You said: Hi from the SaaS']);
    expect(stored[1]!.id).toBe(result.messageId);
  });

  it('two end users of one key, same chat id: two conversations, each with its own history', async () => {
    const id = chatId();
    const alice = await turn(keyClient('ai6', 'alice'), id, [userMessage('I am Alice')]);
    const bob = await turn(keyClient('ai5', 'bob'), id, [userMessage('I am Bob')]);
    expect(conversationOf(alice.chunks)).not.toBe(conversationOf(bob.chunks));
    llm.reset();
    const again = await turn(keyClient('ai6', 'alice'), id, [userMessage('Who am I?')]);
    expect(conversationOf(again.chunks)).toBe(conversationOf(alice.chunks));
    const seen = JSON.stringify(llm.requests[0]!.messages);
    expect(seen).toContain('I am Alice');
    expect(seen).not.toContain('I am Bob');
  });

  it('resumes a running reply with ?user=, and only for that end user', async () => {
    const id = chatId();
    const reply = Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ');
    llm.setReply(() => reply);
    llm.setDelays({ chunkDelayMs: 60 });
    const seen: Chunk[] = [];
    const all = collect(await keyClient('ai6', 'carol').send({ chatId: id, messages: [userMessage('slowly')] }), (chunk) => seen.push(chunk));
    await until(() => seen.some((chunk) => chunk.type === 'text-delta'), 'a delta');
    expect(await keyClient('ai5', 'dave').reconnect(id)).toBeNull();
    const resumed = await keyClient('ai5', 'carol').reconnect(id);
    const message = await keyClient('ai5', 'carol').assemble(await collect(resumed!));
    expect(message.id).toBe(messageIdOf(seen));
    expect(textOf(message)).toBe(reply);
    await all;
    // Resume without ?user= is refused like any key call without its end user.
    const bare = await fetch(`${base}/v1/ai-sdk/chat/${id}/stream`, { headers: bearer(key.key) });
    expect(bare.status).toBe(422);
  });

  it("another owner's chatbot_id is not the key's: 404", async () => {
    const stranger = await registerUser(t);
    const theirs = await createChatbot(t, stranger, { name: 'Not yours' });
    const response = await fetch(`${base}/v1/ai-sdk/chat`, {
      method: 'POST',
      headers: { ...bearer(key.key), 'content-type': 'application/json' },
      body: JSON.stringify({ id: chatId(), messages: [userMessage('hi')], trigger: 'submit-message', user: 'erin', chatbot_id: theirs.id }),
    });
    expect(response.status).toBe(404);
    expect(llm.requests).toHaveLength(0);
  });
});

describe('refused key calls: status and shape, nothing stored, the model not called', () => {
  async function refused(secret: string, extra: Record<string, unknown>, status: number, code: string) {
    const before = { conversations: await t.count('conversations'), messages: await t.count('messages') };
    const response = await fetch(`${base}/v1/ai-sdk/chat`, {
      method: 'POST',
      headers: { ...bearer(secret), 'content-type': 'application/json' },
      body: JSON.stringify({ id: chatId(), messages: [userMessage('hi')], trigger: 'submit-message', ...extra }),
    });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await response.json()) as { code: string; errors?: Array<{ path: string }> };
    expect(body.code).toBe(code);
    expect({ conversations: await t.count('conversations'), messages: await t.count('messages') }).toEqual(before);
    expect(llm.requests).toHaveLength(0);
    return body;
  }

  it('a missing `user` → 422 on user', async () => {
    const body = await refused(key.key, {}, 422, 'validation_failed');
    expect(body.errors?.[0]?.path).toMatch(/user/);
  });

  it('a `user` outside the pattern (or too long, or not text) → 422 on user', async () => {
    for (const user of ['bad user!', 'x'.repeat(129), '', 'ümlaut', 42]) {
      const body = await refused(key.key, { user }, 422, 'validation_failed');
      expect(body.errors?.[0]?.path).toMatch(/user/);
    }
  });

  it('the transport surfaces the refusal', async () => {
    await expect(client('ai5', base, { headers: bearer(key.key) }).send({ chatId: chatId(), messages: [userMessage('hi')] })).rejects.toThrow(/validation_failed/);
  });

  it('a revoked key → 401 on its very next request; a forged checksum → 401', async () => {
    const doomed = await createApiKey(t, owner.accessToken, bot.id, 'doomed');
    expect((await turn(keyClient('ai6', 'frank', doomed.key), chatId(), [userMessage('before')])).text).toBe('You said: before');
    llm.reset();
    const revoke = await t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}/keys/${doomed.id}`, headers: bearer(owner.accessToken) });
    expect(revoke.statusCode).toBe(204);
    await refused(doomed.key, { user: 'frank' }, 401, 'invalid_token');
    const forged = `${key.key.slice(0, -1)}${key.key.endsWith('A') ? 'B' : 'A'}`;
    await refused(forged, { user: 'frank' }, 401, 'invalid_token');
  });
});

describe('a visitor of a public chatbot', () => {
  it.each(CLIENTS)('%s: chats with their visitor token; the chat is theirs, on that chatbot', async (name) => {
    const visit = await startVisit(t, bot.slug, { visitorId: `browser-${name}` });
    const c = client(name, base, { headers: bearer(visit.visitor_token) });
    const id = chatId();
    const result = await turn(c, id, [userMessage('Do you ship to Norway?')]);
    expect(result.text).toBe('You said: Do you ship to Norway?');
    expect(llm.requests[0]!.messages[0]!.content).toContain('Answer as the keyed bot.');
    const conversationId = conversationOf(result.chunks);
    expect(conversationId).not.toBe(visit.conversation_id);
    const history = await visitorMessages(t, visit.visitor_token, conversationId);
    expect(history.statusCode, history.body).toBe(200);
    expect(json(history).data.map((m: { id: string }) => m.id)).toContain(result.messageId);
    // Another visitor's same chat id is another conversation.
    const other = await startVisit(t, bot.slug, { visitorId: `other-${name}` });
    const theirs = await turn(client(name, base, { headers: bearer(other.visitor_token) }), id, [userMessage('Me too')]);
    expect(conversationOf(theirs.chunks)).not.toBe(conversationId);
    expect(await client(name, base, { headers: bearer(other.visitor_token) }).reconnect(id)).toBeNull();
  });
});
