// Deliveries were claimed oldest first across every account, up to 16 at once per instance. One
// account whose receiver does not answer (down behind a load balancer that holds connections, or
// made so on purpose) with a backlog of events filled all 16, each for WEBHOOK_TIMEOUT_MS, wave
// after wave: every other account's webhooks waited behind its backlog (40 events and a 15 s
// timeout: 45 s; retries brought the backlog back at each step of the schedule). An account now
// holds at most MAX_IN_FLIGHT_PER_ACCOUNT of an instance's deliveries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_IN_FLIGHT_PER_ACCOUNT } from '../../src/features/webhooks/webhook-worker.js';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { completeConversation, completedEvent, completedEvents, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

const TIMEOUT_MS = 4_000;
const BACKLOG = 40;

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

describe('an account whose receiver does not answer', () => {
  it(`holds at most ${MAX_IN_FLIGHT_PER_ACCOUNT} of an instance's deliveries; another account's event is delivered meanwhile`, { timeout: 60_000 }, async () => {
    // The other account is ready beforehand: its event is queued as soon as the backlog is being sent,
    // however long an account's setup takes on a busy machine.
    const other = await registerUser(t);
    const prompt = receiver.endpoint('prompt');
    const otherBot = await createChatbot(t, other, { name: 'Quiet' });
    await setWebhook(t, other, otherBot.id, prompt.url);
    const conversation = await createConversation(t, other, { chatbot_id: otherBot.id });
    const heavy = await registerUser(t);
    const silent = receiver.endpoint('silent');
    silent.script(...Array.from({ length: 2 * BACKLOG }, () => ({ status: 200, hang: true })));
    const heavyBot = await createChatbot(t, heavy, { name: 'Busy' });
    await setWebhook(t, heavy, heavyBot.id, silent.url);
    await completedEvents(t, heavy, heavyBot.id, BACKLOG);
    await silent.waitFor(1);
    const event = await completeConversation(t.database, other.id, conversation.id, otherBot.id, { company_name: 'Acme' });
    const [arrived] = await prompt.waitFor(1, 3 * TIMEOUT_MS);

    // Delivered while the silent receiver still held the first attempts it was sent, not after they timed out.
    expect(arrived!.at - silent.received[0]!.at).toBeLessThan(TIMEOUT_MS);
    expect(silent.received.filter((request) => request.at <= arrived!.at).length).toBeLessThanOrEqual(MAX_IN_FLIGHT_PER_ACCOUNT);
    expect((await waitForDelivery(t, other, otherBot.id, event.eventId!, (delivery) => delivery.status === 'delivered')).attempts).toHaveLength(1);
  });
});

describe("an account's backlog to a receiver that answers", () => {
  // Long, so that the whole backlog is made before the first poll finds it, however slow the
  // machine: from then on, only how deliveries follow one another sets the spread.
  const POLL_MS = 20_000;
  let quick: TestApp;
  beforeAll(async () => {
    quick = await createTestApp({ ...WEBHOOK_TEST_ENV, WEBHOOK_POLL_MS: String(POLL_MS) });
  });
  afterAll(async () => {
    await quick?.close();
  });

  it(`is sent as fast as it is answered, not ${MAX_IN_FLIGHT_PER_ACCOUNT} a poll`, { timeout: 120_000 }, async () => {
    const owner = await registerUser(quick);
    const endpoint = receiver.endpoint('backlog');
    const bot = await createChatbot(quick, owner, { name: 'Busy day' });
    await setWebhook(quick, owner, bot.id, endpoint.url);
    for (let i = 0; i < BACKLOG; i++) await completedEvent(quick, owner, bot.id);
    const made = Date.now();
    const received = await endpoint.waitFor(BACKLOG, 3 * POLL_MS);
    expect(received[0]!.at).toBeGreaterThanOrEqual(made);
    // All within one poll interval of the first: each delivered attempt made room for the next.
    expect(received.at(-1)!.at - received[0]!.at).toBeLessThan(POLL_MS);
    expect(new Set(received.map((request) => request.headers['webhook-id'])).size).toBe(BACKLOG);
  });
});
