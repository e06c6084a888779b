// Marking a conversation read while its visitor is still writing: the owner's page shows the
// messages it fetched, the visitor sends one more, then the page marks the conversation read.
// Marking everything read would swallow the message the owner never saw, and the inbox would no
// longer show it waiting. `through_message_id` (the newest message the owner's page shows) marks
// read only up to it: what came after stays unread.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, fakeLlmEnv } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, visitorSend, type Visit } from '../helpers/public.js';

let t: TestApp;
let llm: FakeLlm;
let owner: RegisteredUser;

beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(llm.url, { RATE_LIMIT_PUBLIC_IP: '10000/1m', RATE_LIMIT_PUBLIC_VISITOR: '10000/1m' }));
});
afterAll(async () => {
  await t?.close();
  await llm?.close();
});
beforeEach(async () => {
  owner = await registerUser(t);
});

async function visit(): Promise<{ bot: { id: string }; visit: Visit }> {
  const bot = await createChatbot(t, owner, { name: 'Front desk', is_public: true });
  return { bot, visit: await startVisit(t, bot.slug) };
}

/** A visitor's message; the id of the message as stored. */
async function say(v: Visit, content: string): Promise<string> {
  const response = await visitorSend(t, v.visitor_token, v.conversation_id, { content });
  expect(response.statusCode, response.body).toBe(201);
  return (json(response) as { user_message: { id: string } }).user_message.id;
}

const markRead = (conversationId: string, payload?: object, user: RegisteredUser = owner) =>
  t.request({ method: 'POST', url: `/v1/conversations/${conversationId}/read`, headers: bearer(user.accessToken), ...(payload ? { payload } : {}) });

async function unread(chatbotId: string, conversationId: string): Promise<number> {
  const response = await t.request({ method: 'GET', url: `/v1/chatbots/${chatbotId}/conversations`, headers: bearer(owner.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  const rows = (json(response) as { data: Array<{ conversation_id: string; unread_count: number }> }).data;
  return rows.find((row) => row.conversation_id === conversationId)!.unread_count;
}

/** The ids of the conversation's messages as the owner's page shows them, oldest first. */
async function shown(conversationId: string): Promise<Array<{ id: string; role: string }>> {
  const response = await t.request({ method: 'GET', url: `/v1/conversations/${conversationId}/messages`, headers: bearer(owner.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return (json(response) as { data: Array<{ id: string; role: string }> }).data;
}

function expectProblem(response: LightMyRequestResponse, status: number, code: string) {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(json(response).code).toBe(code);
}

describe('POST /v1/conversations/{id}/read with through_message_id', () => {
  it('leaves unread what the visitor sent after the message the owner saw', async () => {
    const { bot, visit: v } = await visit();
    await say(v, 'one');
    await say(v, 'two');
    const seen = await shown(v.conversation_id);
    await say(v, 'three, while the owner reads');
    const newest = seen[seen.length - 1]!;

    const read = await markRead(v.conversation_id, { through_message_id: newest.id });
    expect(read.statusCode, read.body).toBe(200);
    expect(json(read)).toEqual({ conversation_id: v.conversation_id, unread_count: 1 });
    expect(await unread(bot.id, v.conversation_id)).toBe(1);

    const now = await shown(v.conversation_id);
    expect((await markRead(v.conversation_id, { through_message_id: now[now.length - 1]!.id })).json()).toEqual({ conversation_id: v.conversation_id, unread_count: 0 });
    expect(await unread(bot.id, v.conversation_id)).toBe(0);
  });

  it('counts up to a visitor message as well as up to a reply, and never marks read messages unread again', async () => {
    const { bot, visit: v } = await visit();
    const first = await say(v, 'one');
    await say(v, 'two');
    await say(v, 'three');
    expect(json(await markRead(v.conversation_id, { through_message_id: first })).unread_count).toBe(2);
    expect(await markRead(v.conversation_id).then((r) => json(r).unread_count)).toBe(0);
    // An older page marking read later does not bring back what was read since.
    expect(json(await markRead(v.conversation_id, { through_message_id: first })).unread_count).toBe(0);
    expect(await unread(bot.id, v.conversation_id)).toBe(0);
  });

  it("refuses a message of another conversation, an unknown or a malformed id with a 422, and changes nothing", async () => {
    const { bot, visit: v } = await visit();
    await say(v, 'one');
    const other = await startVisit(t, (await createChatbot(t, owner, { name: 'Other desk', is_public: true })).slug);
    const elsewhere = await say(other, 'elsewhere');
    for (const through of [elsewhere, '01890000-0000-7000-8000-000000000000']) {
      const refused = await markRead(v.conversation_id, { through_message_id: through });
      expectProblem(refused, 422, 'validation_failed');
      expect(json(refused).errors).toEqual([{ path: 'body.through_message_id', message: 'names no message of this conversation' }]);
    }
    for (const through of ['not-an-id', 5, null]) {
      const refused = await markRead(v.conversation_id, { through_message_id: through });
      expectProblem(refused, 422, 'validation_failed');
      expect(json(refused).errors[0].path).toBe('body.through_message_id');
    }
    expect(await unread(bot.id, v.conversation_id)).toBe(1);
  });

  it("answers 404 for another owner's conversation, whatever the message", async () => {
    const { visit: v } = await visit();
    const id = await say(v, 'one');
    const stranger = await registerUser(t);
    expectProblem(await markRead(v.conversation_id, { through_message_id: id }, stranger), 404, 'not_found');
  });
});
