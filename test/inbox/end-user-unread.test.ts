// The owner's inbox lists the conversations of an API key's end users beside public visitors'
// (a support desk's app talking through `/v1/chat`), but their messages never counted as unread:
// an end user could write ten times and the row still said `unread_count: 0`, so the owner had
// no sign that anyone waited for them. An end user's message counts as a visitor's does, and
// marking the conversation read sets it back to 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

describe("an API key's end user in the owner's inbox", () => {
  it('has their messages counted unread until the owner marks the conversation read', async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Support desk' });
    const key = await createApiKey(t, owner, bot.id);
    const asKey = { authorization: `Bearer ${key.key}` };

    const started = await t.request({ method: 'POST', url: '/v1/chat', headers: asKey, payload: { message: 'My order is late', user: 'ana' } });
    expect(started.statusCode, started.body).toBe(201);
    const conversationId = json(started).conversation_id as string;
    const more = await t.request({ method: 'POST', url: `/v1/conversations/${conversationId}/messages`, headers: asKey, payload: { content: 'Order 1042', user: 'ana' } });
    expect(more.statusCode, more.body).toBe(201);

    const unread = async () => {
      const inbox = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/conversations`, headers: bearer(owner.accessToken) });
      expect(inbox.statusCode, inbox.body).toBe(200);
      const row = json(inbox).data.find((r: { conversation_id: string }) => r.conversation_id === conversationId);
      expect(row.visitor.visitor_id).toBe('ana');
      return row.unread_count as number;
    };
    expect(await unread()).toBe(2);

    const read = await t.request({ method: 'POST', url: `/v1/conversations/${conversationId}/read`, headers: bearer(owner.accessToken) });
    expect(read.statusCode, read.body).toBeLessThan(300);
    expect(await unread()).toBe(0);
  });
});
