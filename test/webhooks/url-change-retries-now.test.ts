// An owner whose receiver was failing fixes the chatbot's webhook_url: the events waiting out their
// backoff go to the new url at once, as the same events (same webhook-id, same signature input),
// rather than at their next scheduled attempt, hours later. Writing the url it already had changes
// nothing of the schedule: a settings form sends it back with every save.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { completedEvent, deliveryOf, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

const HOUR_MS = 3_600_000;

let receiver: FakeWebhooks;
let t: TestApp;
let owner: RegisteredUser;
// A receiver that holds each request until the test answers it, so that the url is changed while
// an attempt is under way however slow the machine.
let holding: Server;
let holdingUrl: string;
const held: ServerResponse[] = [];
let arrived: () => void;
const firstHeld = new Promise<void>((resolve) => (arrived = resolve));

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  holding = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      held.push(response);
      arrived();
    });
  });
  await new Promise<void>((resolve) => holding.listen(0, '127.0.0.1', resolve));
  holdingUrl = `http://127.0.0.1:${(holding.address() as { port: number }).port}/hooks/holding`;
  // A failed attempt waits an hour (±20%) before the next: far beyond anything the test waits for.
  // A held attempt waits for its answer well past the time the test takes to write the new url.
  t = await createTestApp({ ...WEBHOOK_TEST_ENV, WEBHOOK_RETRY_SCHEDULE: '1h,1h,1h', WEBHOOK_TIMEOUT_MS: '20000', WEBHOOK_LEASE_MS: '30000' });
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
  holding?.closeAllConnections();
  await new Promise((resolve) => holding?.close(resolve));
});

/** A chatbot whose receiver answered 500 to its event's first attempt, the event now waiting out its backoff. */
async function eventInBackoff(name: string) {
  const down = receiver.endpoint(`${name.toLowerCase().replaceAll(' ', '-')}-down`);
  down.script({ status: 500 });
  const bot = await createChatbot(t, owner, { name });
  const { webhook_secret: secret } = await setWebhook(t, owner, bot.id, down.url);
  const event = await completedEvent(t, owner, bot.id);
  const waiting = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.attempts.length === 1 && d.attempts[0]!.status_code === 500);
  expect(waiting.status).toBe('pending');
  expect(Date.parse(waiting.next_attempt_at!) - Date.now()).toBeGreaterThan(HOUR_MS / 2);
  return { bot, secret: secret as string, event, down, waiting };
}

describe('a webhook_url changed while events wait out their backoff', () => {
  it('sends them to the new url now, with the same webhook-id and signed as before', { timeout: 60_000 }, async () => {
    const { bot, secret, event, down } = await eventInBackoff('Fixed receiver');
    const fixed = receiver.endpoint('fixed');
    await setWebhook(t, owner, bot.id, fixed.url);

    const [received] = await fixed.waitFor(1, 20_000);
    expect(received!.headers['webhook-id']).toBe(event.eventId);
    expect(new Webhook(secret).verify(received!.body, received!.headers as Record<string, string>)).toMatchObject({
      type: 'conversation.completed',
      data: { conversation_id: event.conversationId },
    });
    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    expect(delivery.attempts.map((attempt) => attempt.status_code)).toEqual([500, 200]);
    expect(down.received).toHaveLength(1);
  });

  it('sends one whose attempt at the old url was under way, and failed, to the new url now', { timeout: 60_000 }, async () => {
    const bot = await createChatbot(t, owner, { name: 'Moved mid-attempt' });
    await setWebhook(t, owner, bot.id, holdingUrl);
    const event = await completedEvent(t, owner, bot.id);
    await firstHeld;
    const fixed = receiver.endpoint('fixed-mid-attempt');
    await setWebhook(t, owner, bot.id, fixed.url);
    held.shift()!.writeHead(500).end('down');

    const [received] = await fixed.waitFor(1, 20_000);
    expect(received!.headers['webhook-id']).toBe(event.eventId);
    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    expect(delivery.attempts.map((attempt) => attempt.status_code)).toEqual([500, 200]);
  });

  it('keeps the schedule when the url written is the one the chatbot already has', { timeout: 60_000 }, async () => {
    const { bot, event, down, waiting } = await eventInBackoff('Saved again');
    await setWebhook(t, owner, bot.id, down.url);
    const after = await deliveryOf(t, owner, bot.id, event.eventId!);
    expect(after).toMatchObject({ status: 'pending', next_attempt_at: waiting.next_attempt_at });
    expect(after!.attempts).toHaveLength(1);
  });
});
