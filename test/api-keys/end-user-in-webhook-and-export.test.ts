// Who a collected conversation was with, as its owner reads it (§8, §9, §9.4, §12): a key's end user
// (`user`) is named in the `conversation.completed` webhook exactly as a public visitor is, as
// `visitor: {visitor_id, name}` with `visitor_id` the end user the key named (as the owner's inbox
// lists them), and the exports write the end user's conversation as they write a visitor's. The
// end user talks through /v1/chat with the key (/v1/chat/completions stores no conversation).
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, visitorSend } from '../helpers/public.js';
import { setWebhook, WEBHOOK_TEST_ENV } from '../webhooks/events.js';

let receiver: FakeWebhooks;
let t: TestApp;
let owner: RegisteredUser;

const COLLECT = {
  fields: [
    { key: 'name', label: 'name', type: 'string', required: true },
    { key: 'email', label: 'email address', type: 'email', required: true },
  ],
  completion_message: 'Thanks, we will be in touch.',
};

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  t = await createTestApp({ ...WEBHOOK_TEST_ENV, RATE_LIMIT_PUBLIC_VISITOR: '1000/1m' });
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

const asOwner = (url: string) => t.request({ method: 'GET', url, headers: bearer(owner.accessToken) });

describe("a key's end user who completes a collecting conversation", () => {
  it('is named in the webhook as a public visitor is, and exported as one is', async () => {
    const endpoint = receiver.endpoint('end-users');
    const bot = await createChatbot(t, owner, { name: 'Lead intake', is_public: true, greeting: 'Hello!', collect: COLLECT });
    const { webhook_secret: secret } = await setWebhook(t, owner, bot.id, endpoint.url);
    const { key } = await createApiKey(t, owner, bot.id);

    // A visitor of the widget, and an end user of the owner's own server through the key.
    const visit = await startVisit(t, bot.slug, { visitorId: 'browser-7', name: 'Dana' });
    for (const content of ['hi', 'Dana Scully', 'dana@example.org']) {
      const sent = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content });
      expect(sent.statusCode, sent.body).toBe(201);
    }
    let endUsers: string | undefined;
    for (const message of ['hi', 'Fox Mulder', 'fox@example.org']) {
      const sent = await t.request({ method: 'POST', url: '/v1/chat', headers: bearer(key), payload: { message, user: 'crm-4711', ...(endUsers ? { conversation_id: endUsers } : {}) } });
      expect(sent.statusCode, sent.body).toBe(201);
      endUsers = json(sent).conversation_id as string;
    }
    expect(json(await asOwner(`/v1/conversations/${endUsers}/data`))).toMatchObject({ completed: true });

    // The webhook: both completions, each naming whom it was with.
    const received = await endpoint.waitFor(2);
    const events = received.map((one) => new Webhook(secret).verify(one.body, one.headers as Record<string, string>) as { data: Record<string, unknown> });
    const byConversation = new Map(events.map((event) => [event.data.conversation_id, event.data]));
    expect(byConversation.get(visit.conversation_id)).toMatchObject({ data: { name: 'Dana Scully', email: 'dana@example.org' }, visitor: { visitor_id: 'browser-7', name: 'Dana' } });
    expect(byConversation.get(endUsers)).toMatchObject({ data: { name: 'Fox Mulder', email: 'fox@example.org' }, visitor: { visitor_id: 'crm-4711', name: null } });

    // The owner's inbox says the same.
    const inbox = json(await asOwner(`/v1/chatbots/${bot.id}/conversations`)).data as Array<{ conversation_id: string; visitor: unknown }>;
    expect(inbox.find((row) => row.conversation_id === endUsers)?.visitor).toEqual({ visitor_id: 'crm-4711', name: null });

    // The exports write the end user's conversation as they write the visitor's (neither names
    // whom it was with: the document is `{conversation, messages, data}`, the CSV's columns are
    // fixed by §12): the same document, with the data collected, in every format.
    const one = json(await asOwner(`/v1/conversations/${endUsers}/export`));
    const visitorsOne = json(await asOwner(`/v1/conversations/${visit.conversation_id}/export`));
    expect(Object.keys(one)).toEqual(Object.keys(visitorsOne));
    expect(Object.keys(one.conversation)).toEqual(Object.keys(visitorsOne.conversation));
    expect(one).toMatchObject({ conversation: { id: endUsers, status: 'completed' }, data: { name: 'Fox Mulder', email: 'fox@example.org' } });
    expect(one.messages.map((m: { content: string }) => m.content)).toContain('fox@example.org');

    const ndjson = await asOwner(`/v1/exports/conversations?chatbot_id=${bot.id}&format=ndjson`);
    expect(ndjson.statusCode, ndjson.body).toBe(200);
    const lines = ndjson.body.trim().split('\n').map((line) => JSON.parse(line) as { conversation: { id: string } });
    expect(lines.find((line) => line.conversation.id === endUsers)).toEqual(one);
    expect(lines.find((line) => line.conversation.id === visit.conversation_id)).toEqual(visitorsOne);
    const array = json(await asOwner(`/v1/exports/conversations?chatbot_id=${bot.id}&format=json`)) as unknown as Array<{ conversation: { id: string } }>;
    expect(array.find((item) => item.conversation.id === endUsers)).toEqual(one);

    const csv = await asOwner(`/v1/exports/conversations?chatbot_id=${bot.id}&format=csv`);
    expect(csv.statusCode, csv.body).toBe(200);
    const rows = csv.body.replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(rows[0]).toBe('conversation_id,status,created_at,updated_at,name,email');
    expect(rows.find((row) => row.startsWith(endUsers!))).toMatch(/,completed,.*,Fox Mulder,fox@example\.org$/);
    expect(rows.find((row) => row.startsWith(visit.conversation_id))).toMatch(/,completed,.*,Dana Scully,dana@example\.org$/);
  });
});
