// An owner moves their webhook to a new receiver while an attempt at the old one is under way, and
// the old receiver (being retired) answers 410 Gone. That answer is the old url's: the webhook the
// owner set since is on, and the event is theirs to receive there, not failed for good.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { completedEvent, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

let receiver: FakeWebhooks;
let t: TestApp;

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  t = await createTestApp(WEBHOOK_TEST_ENV);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

describe('a 410 Gone from the old receiver after the webhook_url was changed', () => {
  it('leaves the webhook on and sends the event to the new url, signed as before', { timeout: 60_000 }, async () => {
    const owner = await registerUser(t);
    const retired = receiver.endpoint('retired');
    const current = receiver.endpoint('current');
    // Answered once the new url is written (the attempt's timeout is 1 s).
    retired.script({ status: 410, delayMs: 600 });
    const bot = await createChatbot(t, owner, { name: 'Moving' });
    const { webhook_secret: secret } = await setWebhook(t, owner, bot.id, retired.url);
    const event = await completedEvent(t, owner, bot.id);
    await retired.waitFor(1);
    await setWebhook(t, owner, bot.id, current.url);

    const [received] = await current.waitFor(1, 10_000);
    expect(received!.headers['webhook-id']).toBe(event.eventId);
    expect(new Webhook(secret).verify(received!.body, received!.headers as Record<string, string>)).toMatchObject({ data: { conversation_id: event.conversationId } });
    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    expect(delivery.attempts.map((attempt) => attempt.status_code)).toEqual([410, 200]);
    expect(delivery.attempts[0]!.error).not.toMatch(/turned off/);
    const chatbot = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    expect(chatbot.json()).toMatchObject({ webhook_url: current.url, webhook_enabled: true });
    // The operator's log tells the same as the delivery log.
    const lines = t.logs.filter((line) => line.includes(event.eventId!) && line.includes('"status_code":410'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/turned off/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ outcome: 'retry', error: delivery.attempts[0]!.error });
  });
});
