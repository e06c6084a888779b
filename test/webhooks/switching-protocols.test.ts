// A receiver may answer anything, including `101 Switching Protocols` with an Upgrade header. Such
// an answer is no answer to a webhook: the attempt must end as a failure like any other status,
// within the timeout, and free its place among the account's deliveries in flight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_IN_FLIGHT_PER_ACCOUNT } from '../../src/features/webhooks/webhook-worker.js';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { completedEvent, completedEvents, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

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

const SWITCHING = { status: 101, headers: { upgrade: 'websocket', connection: 'Upgrade' } };

describe('a receiver that answers 101 Switching Protocols', () => {
  it("fails the attempt, which is retried; the account's other webhooks are still delivered", { timeout: 60_000 }, async () => {
    const owner = await registerUser(t);
    const switching = receiver.endpoint('switching');
    switching.script(...Array.from({ length: MAX_IN_FLIGHT_PER_ACCOUNT }, () => SWITCHING));
    const bot = await createChatbot(t, owner, { name: 'Upgraded' });
    await setWebhook(t, owner, bot.id, switching.url);
    // Queued one right after another: a first attempt's retry must not take a 101 meant for another's first.
    const events = await completedEvents(t, owner, bot.id, MAX_IN_FLIGHT_PER_ACCOUNT);
    await switching.waitFor(MAX_IN_FLIGHT_PER_ACCOUNT);

    const plain = receiver.endpoint('plain');
    const other = await createChatbot(t, owner, { name: 'Plain' });
    await setWebhook(t, owner, other.id, plain.url);
    const event = await completedEvent(t, owner, other.id);
    await waitForDelivery(t, owner, other.id, event.eventId!, (d) => d.status === 'delivered');

    for (const { eventId } of events) {
      const delivery = await waitForDelivery(t, owner, bot.id, eventId!, (d) => d.status === 'delivered');
      expect(delivery.attempts[0]).toMatchObject({ status_code: 101, error: expect.stringMatching(/101/) });
      expect(delivery.attempts[1]).toMatchObject({ status_code: 200, error: null });
    }
  });
});
