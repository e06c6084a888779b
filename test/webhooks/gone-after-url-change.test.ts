// An owner moves their webhook to a new receiver while an attempt at the old one is under way, and
// the old receiver (being retired) answers 410 Gone. That answer is the old url's: the webhook the
// owner set since is on, and the event is theirs to receive there, not failed for good.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { completedEvent, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

let receiver: FakeWebhooks;
let t: TestApp;
// The retired receiver: it holds each request until the test lets it answer 410, so the new url
// is written while the attempt is under way however slow the machine.
let retired: Server;
let retiredUrl: string;
const held: ServerResponse[] = [];
let arrived: () => void;
const firstArrived = new Promise<void>((resolve) => (arrived = resolve));

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  retired = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      held.push(response);
      arrived();
    });
  });
  await new Promise<void>((resolve) => retired.listen(0, '127.0.0.1', resolve));
  retiredUrl = `http://127.0.0.1:${(retired.address() as { port: number }).port}/hooks/retired`;
  // The attempt waits for the held answer well past the time the test takes to write the new url.
  t = await createTestApp({ ...WEBHOOK_TEST_ENV, WEBHOOK_TIMEOUT_MS: '20000', WEBHOOK_LEASE_MS: '30000' });
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
  retired?.closeAllConnections();
  await new Promise((resolve) => retired?.close(resolve));
});

describe('a 410 Gone from the old receiver after the webhook_url was changed', () => {
  it('leaves the webhook on and sends the event to the new url, signed as before', { timeout: 60_000 }, async () => {
    const owner = await registerUser(t);
    const current = receiver.endpoint('current');
    const bot = await createChatbot(t, owner, { name: 'Moving' });
    const { webhook_secret: secret } = await setWebhook(t, owner, bot.id, retiredUrl);
    const event = await completedEvent(t, owner, bot.id);
    await firstArrived;
    await setWebhook(t, owner, bot.id, current.url);
    held.shift()!.writeHead(410).end('gone');

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
