// GET /v1/conversations/{id}/export (§9, §12 "Exports"): one conversation as
// `{conversation, messages, data}`, for whoever may read the conversation, and no one else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startVisit, visitorSend } from '../helpers/public.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '1000/1m' });
});
afterAll(async () => {
  await t?.close();
});

const exportOf = (token: string, id: string, query = '') => t.request({ method: 'GET', url: `/v1/conversations/${id}/export${query}`, headers: bearer(token) });

describe('one conversation exported', () => {
  it('answers the conversation as GET answers it, every message oldest first with its feedback, and the collected data', async () => {
    const owner = await registerUser(t);
    const conversation = await createConversation(t, owner, { title: '公司資料 onboarding' });
    const first = await sendMessage(t, owner, conversation.id, { content: '我們公司叫 Acme' });
    expect(first.statusCode, first.body).toBe(201);
    const second = await sendMessage(t, owner, conversation.id, { content: 'আমাদের দেশ বাংলাদেশ' });
    expect(second.statusCode, second.body).toBe(201);
    const reply = json(first).reply;
    const rated = await t.request({ method: 'PUT', url: `/v1/messages/${reply.id}/feedback`, headers: bearer(owner.accessToken), payload: { rating: 'like', comment: 'helpful' } });
    expect(rated.statusCode, rated.body).toBe(200);
    const data = { company_name: 'Acme 股份有限公司', company_size: 50, products: [{ name: 'Widget', price: 9.5 }] };
    await t.database.sql.query('UPDATE conversations SET data = $1::jsonb WHERE id = $2', [JSON.stringify(data), conversation.id]);

    const response = await exportOf(owner.accessToken, conversation.id);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const document = json(response);
    expect(Object.keys(document).sort()).toEqual(['conversation', 'data', 'messages']);

    const shown = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}`, headers: bearer(owner.accessToken) }));
    expect(document.conversation).toEqual(shown);
    const listed = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/messages?limit=100`, headers: bearer(owner.accessToken) }));
    expect(document.messages).toEqual(listed.data);
    expect(document.messages).toHaveLength(4);
    expect(document.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(document.messages[0].content).toBe('我們公司叫 Acme');
    expect(document.messages[2].content).toBe('আমাদের দেশ বাংলাদেশ');
    expect(document.messages[1]).toMatchObject({ id: reply.id, feedback: { rating: 'like', comment: 'helpful' } });
    expect(document.messages[0].feedback).toBeNull();
    expect(document.data).toEqual(data);
  });

  it('has empty messages and data `{}` for a new conversation', async () => {
    const owner = await registerUser(t);
    const conversation = await createConversation(t, owner);
    const document = json(await exportOf(owner.accessToken, conversation.id));
    expect(document).toEqual({ conversation, messages: [], data: {} });
  });

  it("answers 404 for another tenant's conversation, a malformed id and an unknown one", async () => {
    const owner = await registerUser(t);
    const stranger = await registerUser(t);
    const conversation = await createConversation(t, owner);
    await t.database.sql.query('UPDATE conversations SET data = $1::jsonb WHERE id = $2', [JSON.stringify({ secret: 'x' }), conversation.id]);
    for (const id of [conversation.id, 'not-a-uuid', '01900000-0000-7000-8000-000000000000']) {
      const response = await exportOf(stranger.accessToken, id);
      expect(response.statusCode, id).toBe(404);
      expect(json(response).code).toBe('not_found');
      expect(response.body).not.toContain('secret');
    }
    expect((await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/export` })).statusCode).toBe(401);
  });

  it("lets the owner export their public chatbot's visitor conversations", async () => {
    const owner = await registerUser(t);
    const chatbot = await createChatbot(t, owner, { is_public: true });
    const visit = await startVisit(t, chatbot.slug, { visitorId: 'visitor-7' });
    expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content: 'hello from a visitor' })).statusCode).toBe(201);
    const document = json(await exportOf(owner.accessToken, visit.conversation_id));
    expect(document.conversation).toMatchObject({ id: visit.conversation_id, chatbot_id: chatbot.id, message_count: 2 });
    expect(document.messages[0].content).toBe('hello from a visitor');
    // A visitor token is not a way in.
    expect((await exportOf(visit.visitor_token, visit.conversation_id)).statusCode).toBe(401);
  });

  it("lets a key's end user export their own conversations only; the owner exports them all", async () => {
    const owner = await registerUser(t);
    const chatbot = await createChatbot(t, owner);
    const other = await createChatbot(t, owner);
    const { key } = await createApiKey(t, owner, chatbot.id);
    const { key: otherKey } = await createApiKey(t, owner, other.id);
    const start = async (user: string, withKey = key) => {
      const response = await t.request({ method: 'POST', url: '/v1/conversations', headers: bearer(withKey), payload: { user } });
      expect(response.statusCode, response.body).toBe(201);
      const id = json(response).id as string;
      const sent = await t.request({ method: 'POST', url: `/v1/conversations/${id}/messages`, headers: bearer(withKey), payload: { content: `I am ${user}`, user } });
      expect(sent.statusCode, sent.body).toBe(201);
      return id;
    };
    const alices = await start('alice');
    const bobs = await start('bob');
    const ownOwn = (await createConversation(t, owner, { chatbot_id: chatbot.id })).id as string;

    const mine = await exportOf(key, alices, '?user=alice');
    expect(mine.statusCode, mine.body).toBe(200);
    expect(json(mine).messages[0].content).toBe('I am alice');
    // Another end user's, the owner's own, and the same end user name on another chatbot's key: 404.
    expect((await exportOf(key, bobs, '?user=alice')).statusCode).toBe(404);
    expect((await exportOf(key, ownOwn, '?user=alice')).statusCode).toBe(404);
    expect((await exportOf(otherKey, alices, '?user=alice')).statusCode).toBe(404);
    // A key names its end user.
    expect((await exportOf(key, alices)).statusCode).toBe(422);
    expect((await exportOf(key, alices, '?user=bad%20name')).statusCode).toBe(422);

    for (const id of [alices, bobs, ownOwn]) expect((await exportOf(owner.accessToken, id)).statusCode).toBe(200);
    expect(json(await exportOf(owner.accessToken, bobs)).messages[0].content).toBe('I am bob');
  });

  it('is documented in the OpenAPI document', async () => {
    const spec = json(await t.request({ method: 'GET', url: '/openapi.json' }));
    expect(spec.paths['/v1/conversations/{id}/export'].get).toBeTruthy();
    expect(Object.keys(spec.paths['/v1/exports/conversations'].get.responses['200'].content).sort()).toEqual(['application/json', 'application/x-ndjson', 'text/csv']);
  });
});
