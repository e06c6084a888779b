// An account holds at most MAX_IN_FLIGHT_PER_ACCOUNT of an instance's deliveries (fairness.test.ts),
// but slots freed were given to the oldest due deliveries whoever's they were: four accounts whose
// receivers do not answer, registered by one person, filled all 16 wave after wave, and another
// account's event waited behind their whole backlog. Freed slots now go round the accounts first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_IN_FLIGHT_PER_ACCOUNT } from '../../src/features/webhooks/webhook-worker.js';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { completeConversation, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

const TIMEOUT_MS = 2_000;
const ACCOUNTS = 4;
/** Slots of one instance (the worker's default), all of which the silent accounts can hold at once. */
const SLOTS = ACCOUNTS * MAX_IN_FLIGHT_PER_ACCOUNT;
const BACKLOG = 3 * MAX_IN_FLIGHT_PER_ACCOUNT;

let receiver: FakeWebhooks;
let t: TestApp;

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  t = await createTestApp({ ...WEBHOOK_TEST_ENV, WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS), WEBHOOK_LEASE_MS: String(3 * TIMEOUT_MS), WEBHOOK_RETRY_SCHEDULE: '60s' });
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

describe(`${ACCOUNTS} accounts whose receivers do not answer, with a backlog each`, () => {
  it("do not keep another account's event waiting behind their whole backlog", { timeout: 120_000 }, async () => {
    // The other account is ready beforehand: its event is queued as soon as the backlog is being sent,
    // however long an account's setup takes on a busy machine.
    const other = await registerUser(t);
    const prompt = receiver.endpoint('prompt-many');
    const otherBot = await createChatbot(t, other, { name: 'Quiet' });
    await setWebhook(t, other, otherBot.id, prompt.url);
    const conversation = await createConversation(t, other, { chatbot_id: otherBot.id });
    const silent = receiver.endpoint('silent-many');
    silent.script(...Array.from({ length: 2 * ACCOUNTS * BACKLOG }, () => ({ status: 200, hang: true })));
    // Every backlog's conversations first, then their completions one right after another: however
    // slow the machine, none is sent before the backlogs are all there.
    const backlog = [];
    for (let a = 0; a < ACCOUNTS; a++) {
      const user = await registerUser(t);
      const bot = await createChatbot(t, user, { name: `Silent ${a}` });
      await setWebhook(t, user, bot.id, silent.url);
      for (let i = 0; i < BACKLOG; i++) backlog.push({ user, bot, conversation: await createConversation(t, user, { chatbot_id: bot.id }) });
    }
    for (const { user, bot, conversation } of backlog) await completeConversation(t.database, user.id, conversation.id, bot.id, { company_name: 'Acme' });
    await silent.waitFor(SLOTS);
    const event = await completeConversation(t.database, other.id, conversation.id, otherBot.id, { company_name: 'Acme' });
    const [arrived] = await prompt.waitFor(1, 10 * TIMEOUT_MS);

    // Sent with the first slots freed after it was queued, not after the silent accounts' backlog.
    expect(silent.received.filter((request) => request.at <= arrived!.at).length).toBeLessThan(2 * SLOTS);
    expect((await waitForDelivery(t, other, otherBot.id, event.eventId!, (delivery) => delivery.status === 'delivered')).attempts).toHaveLength(1);
  });
});
