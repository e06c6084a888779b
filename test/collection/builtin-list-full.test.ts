// The builtin responder gathers at most 500 items of a list. Past them it still said "Added
// “item 501”" for every item the user gave, and kept none of them: the user was told their items
// were recorded when they were not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '100000/1m' });
});
afterAll(async () => {
  await t?.close();
});

describe('a list the builtin responder gathers', () => {
  it('never says an item was added that is not kept, and says when the list is full', { timeout: 120_000 }, async () => {
    const owner = await registerUser(t);
    const collect = { fields: [{ key: 'products', label: 'products', type: 'list', required: true, item_fields: [{ key: 'name', label: 'name', type: 'string', required: true }] }] };
    const chatbot = await createChatbot(t, owner, { collect });
    const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
    const replies: string[] = [];
    for (const content of ['hello', ...Array.from({ length: 503 }, (_, i) => `item ${i + 1}`), 'done']) {
      const response = await sendMessage(t, owner, conversation.id, { content });
      expect(response.statusCode, response.body).toBe(201);
      replies.push(json(response).reply.content as string);
    }
    const data = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}/data`, headers: bearer(owner.accessToken) }));
    const kept = new Set((data.data.products as Array<{ name: string }>).map((item) => item.name));
    const said = replies.flatMap((reply) => [...reply.matchAll(/Added “([^”]+)”/gu)].map((match) => match[1]!));
    expect(said.filter((name) => !kept.has(name))).toEqual([]);
    expect(kept.size).toBe(500);
    expect(replies.some((reply) => reply.includes('the list is full (at most 500 items)'))).toBe(true);
  });
});
