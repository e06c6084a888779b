// Freed slots go round the accounts (fairness-accounts.test.ts), but with more accounts whose
// receivers do not answer than an instance has slots, each of them had none in flight as often as
// a newcomer, and among equals the oldest event came first: another account's event waited behind
// their whole backlog. Among equals, the account this instance served least lately now comes first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_IN_FLIGHT_PER_ACCOUNT } from '../../src/features/webhooks/webhook-worker.js';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { completeConversation, completedEvent, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

const TIMEOUT_MS = 2_000;
/** Slots of one instance (the worker's default). */
const SLOTS = 4 * MAX_IN_FLIGHT_PER_ACCOUNT;
const ACCOUNTS = SLOTS + 4;
const BACKLOG = 3;

const ENV = { ...WEBHOOK_TEST_ENV, WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS), WEBHOOK_LEASE_MS: String(3 * TIMEOUT_MS), WEBHOOK_RETRY_SCHEDULE: '60s' };

let receiver: FakeWebhooks;
/** Where the backlog is queued: an instance that polls only after the test, so none is sent before it is all there. */
let queuing: TestApp;
let t: TestApp;

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  queuing = await createTestApp({ ...ENV, WEBHOOK_POLL_MS: '600000' });
});
afterAll(async () => {
  await t?.close();
  await queuing?.close();
  await receiver?.close();
});

describe(`${ACCOUNTS} accounts whose receivers do not answer, more than an instance's ${SLOTS} slots`, () => {
  it("do not keep another account's event waiting behind their whole backlog", { timeout: 120_000 }, async () => {
    const silent = receiver.endpoint('silent-more');
    silent.script(...Array.from({ length: 2 * ACCOUNTS * BACKLOG }, () => ({ status: 200, hang: true })));
    for (let a = 0; a < ACCOUNTS; a++) {
      const heavy = await registerUser(queuing);
      const bot = await createChatbot(queuing, heavy, { name: `Silent ${a}` });
      await setWebhook(queuing, heavy, bot.id, silent.url);
      for (let i = 0; i < BACKLOG; i++) await completedEvent(queuing, heavy, bot.id);
    }
    // The other account is ready beforehand, so its event is queued as soon as the first wave is sent.
    const other = await registerUser(queuing);
    const prompt = receiver.endpoint('prompt-more');
    const otherBot = await createChatbot(queuing, other, { name: 'Quiet' });
    await setWebhook(queuing, other, otherBot.id, prompt.url);
    const conversation = await createConversation(queuing, other, { chatbot_id: otherBot.id });

    t = await createTestApp(ENV, { sharedWith: queuing });
    await silent.waitFor(SLOTS);
    const event = await completeConversation(t.database, other.id, conversation.id, otherBot.id, { company_name: 'Acme' });
    const [arrived] = await prompt.waitFor(1, 20 * TIMEOUT_MS);

    // Sent with the first slots freed after it was queued, not after the silent accounts' backlog
    // (ACCOUNTS × BACKLOG events, all older than it): after the wave in flight when it was queued
    // and at most the rest of its own, sent at once with it, so fewer than two waves.
    expect(silent.received.filter((request) => request.at <= arrived!.at).length).toBeLessThan(2 * SLOTS);
    expect((await waitForDelivery(t, other, otherBot.id, event.eventId!, (delivery) => delivery.status === 'delivered')).attempts).toHaveLength(1);
  });
});
