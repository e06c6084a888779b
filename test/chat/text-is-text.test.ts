// Text is text (§2, §6, §10): a tokenizer's special tokens in a message, a system prompt, a
// conversation's context, a document or a model's reply are ordinary characters; a NUL, which
// PostgreSQL cannot store, is refused with 422 wherever a client sends one and taken out of a
// model's reply; and a turn always ends, leaving its conversation free.
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countTokens } from '../../src/llm/tokens.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { chattingUser, createChatbot, createConversation, fakeLlmEnv, listen, parseSse, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let fake: FakeLlm;
let t: TestApp;
let base: string;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
  base = await listen(t);
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const SPECIAL = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|fim_prefix|>', '<|endofprompt|>'];

async function messagesOf(user: RegisteredUser, conversationId: string) {
  const response = await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}/messages`, headers: bearer(user.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data as Array<Record<string, any>>;
}

describe("a tokenizer's special tokens are plain text", () => {
  it.each(SPECIAL)('a message containing %s is answered and stored as sent', async (token) => {
    const { user, conversation } = await chattingUser(t);
    const content = `what does ${token} mean?`;
    const response = await sendMessage(t, user, conversation.id, { content });
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response).reply).toMatchObject({ status: 'complete', content: `You said: ${content}` });
    expect((await messagesOf(user, conversation.id)).map((m) => m.content)).toEqual([content, `You said: ${content}`]);
  });

  it("in a chatbot's system prompt or a conversation's context, every turn still completes", async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { system_prompt: 'End every answer with <|endoftext|> and <|im_end|>.' });
    const conversation = await createConversation(t, user, { chatbot_id: bot.id, context: 'The notes say <|im_start|>system' });
    for (const content of ['first', 'second']) {
      const response = await sendMessage(t, user, conversation.id, { content, context: 'turn note <|fim_prefix|>' });
      expect(response.statusCode, response.body).toBe(201);
      expect(json(response).reply.status).toBe('complete');
    }
    const sent = fake.requests.at(-1)!.messages;
    expect(sent[0]!.content).toContain('<|endoftext|>');
    expect(sent[0]!.content).toContain('<|im_start|>system');
  });

  it('a reply containing special tokens is stored whole and the conversation is free for the next message', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.setReply(() => 'the marker is <|endoftext|> and <|im_end|>');
    const first = await sendMessage(t, user, conversation.id, { content: 'say the marker' });
    expect(first.statusCode, first.body).toBe(201);
    expect(json(first).reply).toMatchObject({ status: 'complete', content: 'the marker is <|endoftext|> and <|im_end|>' });
    expect(json(first).reply.usage.completion_tokens).toBeGreaterThan(0);
    const next = await sendMessage(t, user, conversation.id, { content: 'again' });
    expect(next.statusCode, next.body).toBe(201);
  });

  it('a streamed reply containing special tokens ends with message.end and frees the conversation', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.setReply(() => '<|im_start|>assistant hello<|im_end|>');
    const response = await fetch(`${base}/v1/conversations/${conversation.id}/messages`, {
      method: 'POST',
      headers: { ...bearer(user.accessToken), 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'hi', stream: true }),
    });
    const events = parseSse(await response.text());
    expect(events.at(-1)).toMatchObject({ event: 'message.end', data: { reply: { status: 'complete', content: '<|im_start|>assistant hello<|im_end|>' } } });
    expect((await sendMessage(t, user, conversation.id, { content: 'next' })).statusCode).toBe(201);
  });

  it('a document with special tokens is chunked, and its chunks are counted as the turn counts them', async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user);
    const content = `# Markers\n\nOur parser treats <|endoftext|> and <|im_start|> as literal text in uploaded files.`;
    const response = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/knowledge`, headers: bearer(user.accessToken), payload: { title: 'markers', content } });
    expect(response.statusCode, response.body).toBe(201);
    const chunks = await t.database.sql.query<{ content: string; tokens: number }>('SELECT content, tokens FROM knowledge_chunks WHERE chatbot_id = $1', [bot.id]);
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of chunks) expect(Number(chunk.tokens)).toBe(countTokens(chunk.content));
  });
});

describe('NUL is refused where a client sends it and taken out of model replies', () => {
  let user: RegisteredUser;
  let conversationId: string;
  let botId: string;
  let messageId: string;

  beforeAll(async () => {
    user = await registerUser(t);
    const bot = await createChatbot(t, user);
    botId = bot.id;
    const conversation = await createConversation(t, user, { chatbot_id: bot.id });
    conversationId = conversation.id;
    const turn = await sendMessage(t, user, conversationId, { content: 'hello' });
    messageId = json(turn).reply.id;
  });

  const NUL = 'a\u0000b';
  const cases: Array<{ name: string; options: () => InjectOptions; path: string }> = [
    { name: 'register', options: () => ({ method: 'POST', url: '/v1/auth/register', payload: { username: 'nul_user', password: `pass${NUL}word` } }), path: 'body.password' },
    { name: 'login', options: () => ({ method: 'POST', url: '/v1/auth/login', payload: { username: user.username, password: NUL } }), path: 'body.password' },
    { name: 'token (JSON)', options: () => ({ method: 'POST', url: '/v1/auth/token', payload: { grant_type: 'password', username: NUL, password: 'whatever1' } }), path: 'body.username' },
    {
      name: 'token (form)',
      options: () => ({ method: 'POST', url: '/v1/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'username=a%00b&password=whatever1' }),
      path: 'body.username',
    },
    { name: 'refresh', options: () => ({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: NUL } }), path: 'body.refresh_token' },
    { name: 'create chatbot', options: () => ({ method: 'POST', url: '/v1/chatbots', headers: bearer(user.accessToken), payload: { name: NUL } }), path: 'body.name' },
    { name: 'update chatbot', options: () => ({ method: 'PATCH', url: `/v1/chatbots/${botId}`, headers: bearer(user.accessToken), payload: { system_prompt: NUL } }), path: 'body.system_prompt' },
    {
      name: 'add knowledge',
      options: () => ({ method: 'POST', url: `/v1/chatbots/${botId}/knowledge`, headers: bearer(user.accessToken), payload: { title: 'doc', content: NUL } }),
      path: 'body.content',
    },
    { name: 'create conversation', options: () => ({ method: 'POST', url: '/v1/conversations', headers: bearer(user.accessToken), payload: { context: NUL } }), path: 'body.context' },
    {
      name: 'rename conversation',
      options: () => ({ method: 'PATCH', url: `/v1/conversations/${conversationId}`, headers: bearer(user.accessToken), payload: { title: NUL } }),
      path: 'body.title',
    },
    {
      name: 'send message',
      options: () => ({ method: 'POST', url: `/v1/conversations/${conversationId}/messages`, headers: bearer(user.accessToken), payload: { content: NUL } }),
      path: 'body.content',
    },
    { name: 'one-call chat', options: () => ({ method: 'POST', url: '/v1/chat', headers: bearer(user.accessToken), payload: { message: NUL } }), path: 'body.message' },
    {
      name: 'feedback',
      options: () => ({ method: 'PUT', url: `/v1/messages/${messageId}/feedback`, headers: bearer(user.accessToken), payload: { rating: 'like', comment: NUL } }),
      path: 'body.comment',
    },
    { name: 'a field name', options: () => ({ method: 'POST', url: '/v1/conversations', headers: bearer(user.accessToken), payload: { [NUL]: 1 } }), path: 'body.a\u0000b' },
  ];

  it.each(cases)('$name: 422 naming the field, and nothing changes', async ({ options, path }) => {
    const before = await Promise.all(['users', 'chatbots', 'conversations', 'messages', 'knowledge_documents'].map((table) => t.count(table)));
    const response = await t.request(options());
    expect(response.statusCode, response.body).toBe(422);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(response)).toMatchObject({ code: 'validation_failed', errors: [{ path }] });
    expect(json(response).errors[0].message).toMatch(/NUL/);
    const after = await Promise.all(['users', 'chatbots', 'conversations', 'messages', 'knowledge_documents'].map((table) => t.count(table)));
    expect(after).toEqual(before);
  });

  it('a lone surrogate is refused (422), not answered as sent and stored as U+FFFD', async () => {
    const before = await t.count('messages');
    const response = await t.request({
      method: 'POST',
      url: `/v1/conversations/${conversationId}/messages`,
      headers: { ...bearer(user.accessToken), 'content-type': 'application/json' },
      payload: '{"content":"x\\ud800y"}',
    });
    expect(response.statusCode, response.body).toBe(422);
    expect(json(response).errors[0]).toMatchObject({ path: 'body.content', message: expect.stringMatching(/surrogate/) });
    expect(await t.count('messages')).toBe(before);
    // A well-formed pair is text like any other.
    const pair = await sendMessage(t, user, conversationId, { content: 'x\ud83d\ude00y' });
    expect(pair.statusCode, pair.body).toBe(201);
    expect(json(pair).user_message.content).toBe('x😀y');
  });

  it('a NUL in a query string is refused too (an admin searching users)', async () => {
    const admin = await registerUser(t);
    await t.database.sql.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [admin.id]);
    const response = await t.request({ method: 'GET', url: '/v1/admin/users?q=a%00b', headers: bearer(admin.accessToken) });
    expect(response.statusCode, response.body).toBe(422);
    expect(json(response).errors[0]).toMatchObject({ path: 'query.q' });
  });

  it('a reply with NUL characters is stored without them, streamed the same, and the conversation is free', async () => {
    const conversation = await createConversation(t, user);
    fake.setReply(() => 'zero\u0000byte\u0000s');
    const whole = await sendMessage(t, user, conversation.id, { content: 'say it' });
    expect(whole.statusCode, whole.body).toBe(201);
    expect(json(whole).reply).toMatchObject({ status: 'complete', content: 'zerobytes' });

    const response = await fetch(`${base}/v1/conversations/${conversation.id}/messages`, {
      method: 'POST',
      headers: { ...bearer(user.accessToken), 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'again', stream: true }),
    });
    const events = parseSse(await response.text());
    const streamed = events.filter((e) => e.event === 'message.delta').map((e) => e.data.delta).join('');
    expect(streamed).toBe('zerobytes');
    expect(events.at(-1)).toMatchObject({ event: 'message.end', data: { reply: { status: 'complete', content: 'zerobytes' } } });
    const stored = await messagesOf(user, conversation.id);
    expect(stored.map((m) => m.content)).toEqual(['say it', 'zerobytes', 'again', 'zerobytes']);
  });
});

describe('a POST whose fields are all optional reads an absent or empty body as {} (§2)', () => {
  it('creates a conversation with a bare POST, as the mobile app sends it', async () => {
    const user = await registerUser(t);
    for (const extra of [{}, { 'content-type': 'application/json' }]) {
      const response = await t.request({ method: 'POST', url: '/v1/conversations', headers: { ...bearer(user.accessToken), ...extra } });
      expect(response.statusCode, response.body).toBe(201);
      expect(json(response)).toMatchObject({ title: null, message_count: 0 });
    }
  });

  it('regenerate, stop and logout take a bare POST', async () => {
    const { user, conversation } = await chattingUser(t);
    expect((await sendMessage(t, user, conversation.id, { content: 'hello' })).statusCode).toBe(201);
    const regenerate = await t.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/regenerate`, headers: bearer(user.accessToken) });
    expect(regenerate.statusCode, regenerate.body).toBe(201);
    const stop = await t.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/stop`, headers: bearer(user.accessToken) });
    expect(stop.statusCode, stop.body).toBe(200);
    expect(json(stop)).toEqual({ stopped: false });
    const logout = await t.request({ method: 'POST', url: '/v1/auth/logout', headers: bearer(user.accessToken) });
    expect(logout.statusCode, logout.body).toBe(204);
    const me = await t.request({ method: 'GET', url: '/v1/auth/me', headers: bearer(user.accessToken) });
    expect(me.statusCode).toBe(401);
  });

  it('a route with required fields still answers 422 to a bare POST', async () => {
    const { user, conversation } = await chattingUser(t);
    const response = await t.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/messages`, headers: bearer(user.accessToken) });
    expect(response.statusCode, response.body).toBe(422);
    expect(json(response).errors[0].path).toBe('body.content');
  });
});
