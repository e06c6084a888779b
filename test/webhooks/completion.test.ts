// The whole way from a chat to a webhook (§9, §9.4): the turn that fills the last required field
// completes the conversation and queues its `conversation.completed` event in the same statement,
// and the owner's endpoint receives it signed, once — from a public visitor's chat with the
// builtin responder, with no test writing the event itself.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startVisit, visitorSend } from '../helpers/public.js';
import { setWebhook, WEBHOOK_TEST_ENV } from './events.js';

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

async function deliveries(chatbotId: string) {
  const response = await t.request({ method: 'GET', url: `/v1/chatbots/${chatbotId}/webhook-deliveries`, headers: bearer(owner.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data as Array<{ id: string; conversation_id: string; status: string }>;
}

describe('a conversation completed in chat', () => {
  it('reaches the webhook once, signed, with the collected data and the visitor', async () => {
    const endpoint = receiver.endpoint('leads');
    const bot = await createChatbot(t, owner, { name: 'Lead desk', is_public: true, greeting: 'Hello!', collect: COLLECT });
    const { webhook_secret: secret } = await setWebhook(t, owner, bot.id, endpoint.url);
    const visit = await startVisit(t, bot.slug, { visitorId: 'browser-7', name: 'Dana' });
    const send = async (content: string) => {
      const response = await visitorSend(t, visit.visitor_token, visit.conversation_id, { content });
      expect(response.statusCode, response.body).toBe(201);
      return json(response).reply.content as string;
    };

    expect(await send('hi')).toContain('name');
    expect(await send('Dana Scully')).toContain('email address');
    expect(await deliveries(bot.id)).toEqual([]);
    expect(await send('dana@example.org')).toContain('Thanks, we will be in touch.');

    const [received] = await endpoint.waitFor(1);
    const event = new Webhook(secret).verify(received!.body, received!.headers as Record<string, string>) as Record<string, any>;
    expect(event).toMatchObject({
      type: 'conversation.completed',
      data: {
        conversation_id: visit.conversation_id,
        chatbot_id: bot.id,
        data: { name: 'Dana Scully', email: 'dana@example.org' },
        visitor: { visitor_id: 'browser-7', name: 'Dana' },
      },
    });
    expect(received!.headers['webhook-id']).toBe((await deliveries(bot.id))[0]!.id);

    // Talking on after the completion queues nothing more.
    await send('one more thing');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(endpoint.received).toHaveLength(1);
    expect(await deliveries(bot.id)).toHaveLength(1);
  });

  it('queues nothing for a chatbot without a webhook, and the conversation still completes', async () => {
    const bot = await createChatbot(t, owner, { name: 'Quiet desk', is_public: true, collect: COLLECT });
    const visit = await startVisit(t, bot.slug);
    for (const content of ['hi', 'Fox Mulder', 'fox@example.org']) {
      expect((await visitorSend(t, visit.visitor_token, visit.conversation_id, { content })).statusCode).toBe(201);
    }
    const data = await t.request({ method: 'GET', url: `/v1/conversations/${visit.conversation_id}/data`, headers: bearer(owner.accessToken) });
    expect(json(data)).toMatchObject({ completed: true, missing: [] });
    const rows = await t.database.sql.query('SELECT 1 FROM webhook_deliveries WHERE chatbot_id = $1', [bot.id]);
    expect(rows).toHaveLength(0);
  });
});
