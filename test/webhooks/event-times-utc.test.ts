// Times are ISO 8601 UTC (§2), whatever time zone the database's sessions run in. A PostgreSQL
// set up on a machine outside UTC has its `timezone` setting from that machine (initdb reads it),
// and the event's `completed_at`, made by the database from a timestamptz, came out in that zone:
// "2026-11-30T10:09:12.675+06:00" on a server in Dhaka, where every other time of the API ends
// in "Z". A receiver comparing it as text, or storing it as the UTC the API promises, was wrong
// by six hours.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, createTestDatabase, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { setWebhook, WEBHOOK_TEST_ENV } from './events.js';

const ZONE = 'Asia/Dhaka';

let receiver: FakeWebhooks;
let zoned: Awaited<ReturnType<typeof createTestDatabase>>;
let t: TestApp;

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  zoned = await createTestDatabase({ timeZone: ZONE });
  t = await createTestApp({ ...WEBHOOK_TEST_ENV, LLM_PROVIDER: 'builtin' }, { database: zoned.database });
});
afterAll(async () => {
  await t?.close();
  await zoned?.drop();
  await receiver?.close();
});

describe("a conversation.completed event from a database whose sessions are not in UTC", () => {
  it('says when the conversation completed in UTC, as the API writes times', async () => {
    const [setting] = await t.database.sql.query<{ zone: string }>('SELECT current_setting($1) AS zone', ['TimeZone']);
    expect(setting!.zone).toBe(ZONE);

    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Lead desk', collect: { fields: [{ key: 'company_name', label: 'company name', type: 'string', required: true }] } });
    const endpoint = receiver.endpoint('zoned');
    const { webhook_secret: secret } = await setWebhook(t, owner, bot.id, endpoint.url);
    const conversation = await createConversation(t, owner, { chatbot_id: bot.id });
    for (const content of ['hi', 'Acme Ltd']) expect((await sendMessage(t, owner, conversation.id, { content })).statusCode).toBe(201);

    const [received] = await endpoint.waitFor(1);
    const event = new Webhook(secret).verify(received!.body, received!.headers as Record<string, string>) as { timestamp: string; data: { completed_at: string } };
    const stored = json(await t.request({ method: 'GET', url: `/v1/conversations/${conversation.id}`, headers: bearer(owner.accessToken) }));
    expect(stored.status).toBe('completed');
    // The turn that completed it is its latest activity.
    expect(event.data.completed_at).toBe(stored.updated_at);
    expect(event.timestamp).toMatch(/Z$/u);
  });
});
