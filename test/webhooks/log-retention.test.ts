// Each try and each redelivery of a webhook event adds an attempt, nothing bounds how often an
// owner redelivers, and neither attempts nor settled events were ever deleted: the tables grew
// for good with every account's traffic. A delivery now keeps the attempts its log can show, and
// events delivered or failed longer ago than WEBHOOK_LOG_RETENTION (30 days) are forgotten by a
// sweep every WEBHOOK_LOG_SWEEP_MS, a bounded batch at a time; pending ones are kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { completedEvent, deliveryOf, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV, type DeliveryView } from './events.js';

let receiver: FakeWebhooks;
let t: TestApp;

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  t = await createTestApp({ ...WEBHOOK_TEST_ENV, WEBHOOK_LOG_SWEEP_MS: '100' });
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

type Shown = DeliveryView & { attempt_count: number };

async function storedAttempts(deliveryId: string): Promise<number> {
  const [row] = await t.database.sql.query<{ n: number | string }>('SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id = $1', [deliveryId]);
  return Number(row!.n);
}

async function storedDeliveries(chatbotId: string): Promise<number> {
  const [row] = await t.database.sql.query<{ n: number | string }>('SELECT count(*) AS n FROM webhook_deliveries WHERE chatbot_id = $1', [chatbotId]);
  return Number(row!.n);
}

/** What `count` events of `daysAgo` days ago left, each with `attempts` attempts, as the worker writes them. */
async function pastEvents(owner: RegisteredUser, chatbotId: string, state: { status: 'pending' | 'delivered' | 'failed'; daysAgo: number; attempts: number; count?: number }): Promise<string[]> {
  const ids = Array.from({ length: state.count ?? 1 }, () => newId());
  // One statement: the sweep running meanwhile must not find the events without their attempts.
  await t.database.sql.query(
    `WITH events AS (
       INSERT INTO webhook_deliveries (id, user_id, chatbot_id, conversation_id, type, payload, status, attempts, next_attempt_at, delivered_at, created_at)
       SELECT id, $2::uuid, $3::uuid, gen_random_uuid(), 'conversation.completed', '{}'::jsonb, $4::text, $5::int,
              CASE WHEN $4::text = 'pending' THEN now() + interval '1 day' END,
              CASE WHEN $4::text = 'delivered' THEN now() - $6::int * interval '1 day' END,
              now() - $6::int * interval '1 day'
         FROM unnest($1::uuid[]) AS id
       RETURNING id)
     INSERT INTO webhook_attempts (delivery_id, attempt, user_id, started_at, status_code, error, latency_ms)
     SELECT events.id, g, $2::uuid, now() - $6::int * interval '1 day', 500, 'status 500', 3 FROM events, generate_series(1, $5::int) AS g`,
    [ids, owner.id, chatbotId, state.status, state.attempts, state.daysAgo],
  );
  return ids;
}

async function until(what: string, done: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const REDELIVERIES = 60;

describe('a delivery redelivered many times', () => {
  it('keeps the attempts its log shows, the latest, and counts them all', { timeout: 90_000 }, async () => {
    const other = await registerUser(t);
    const othersBot = await createChatbot(t, other, { name: 'Delivered once' });
    await setWebhook(t, other, othersBot.id, receiver.endpoint('others').url);
    const othersEvent = await completedEvent(t, other, othersBot.id);
    await waitForDelivery(t, other, othersBot.id, othersEvent.eventId!, (delivery) => delivery.status === 'delivered');

    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Redelivered often' });
    await setWebhook(t, owner, bot.id, receiver.endpoint('often').url);
    const event = await completedEvent(t, owner, bot.id);
    const eventId = event.eventId!;
    await waitForDelivery(t, owner, bot.id, eventId, (delivery) => delivery.status === 'delivered');
    for (let count = 2; count <= REDELIVERIES + 1; count++) {
      const again = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/webhook-deliveries/${eventId}/redeliver`, headers: bearer(owner.accessToken) });
      expect(again.statusCode, again.body).toBe(202);
      await waitForDelivery(t, owner, bot.id, eventId, (delivery) => delivery.status === 'delivered' && (delivery as Shown).attempt_count === count);
    }

    const shown = (await deliveryOf(t, owner, bot.id, eventId)) as Shown;
    expect(shown.attempt_count).toBe(REDELIVERIES + 1);
    expect(shown.attempts.map((attempt) => attempt.attempt)).toEqual(Array.from({ length: 50 }, (_, i) => REDELIVERIES + 1 - 49 + i));
    expect(await storedAttempts(eventId)).toBe(50);

    const others = (await deliveryOf(t, other, othersBot.id, othersEvent.eventId!)) as Shown;
    expect(others.attempt_count).toBe(1);
    expect(others.attempts.map((attempt) => attempt.attempt)).toEqual([1]);
    expect(await storedAttempts(othersEvent.eventId!)).toBe(1);
  });
});

describe('the delivery log', () => {
  it('forgets events settled over 30 days ago, with their attempts, and keeps pending ones', { timeout: 60_000 }, async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Long running' });
    await setWebhook(t, owner, bot.id, receiver.endpoint('long-running').url);
    const [oldDelivered] = await pastEvents(owner, bot.id, { status: 'delivered', daysAgo: 40, attempts: 1 });
    const [oldFailed] = await pastEvents(owner, bot.id, { status: 'failed', daysAgo: 31, attempts: 7 });
    const [oldPending] = await pastEvents(owner, bot.id, { status: 'pending', daysAgo: 40, attempts: 3 });
    const [recentFailed] = await pastEvents(owner, bot.id, { status: 'failed', daysAgo: 29, attempts: 7 });
    const event = await completedEvent(t, owner, bot.id);
    await waitForDelivery(t, owner, bot.id, event.eventId!, (delivery) => delivery.status === 'delivered');

    // Both, not the first alone: a sweep that started between the two inserts takes only the first
    // (seen on PostgreSQL in CI), and the next one, 100 ms on, the other.
    await until('the old settled events forgotten', async () => {
      const left = await Promise.all([oldDelivered!, oldFailed!].map((id) => deliveryOf(t, owner, bot.id, id)));
      return left.every((delivery) => delivery === undefined);
    });
    const log = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/webhook-deliveries?limit=100`, headers: bearer(owner.accessToken) });
    expect(log.statusCode, log.body).toBe(200);
    const shown = (log.json().data as Shown[]).map((delivery) => delivery.id).sort();
    expect(shown).toEqual([oldPending!, recentFailed!, event.eventId!].sort());
    expect(await storedAttempts(oldDelivered!)).toBe(0);
    expect(await storedAttempts(oldFailed!)).toBe(0);
    expect(await storedAttempts(oldPending!)).toBe(3);
    expect(await storedAttempts(recentFailed!)).toBe(7);
  });

  it('forgets a backlog larger than one sweep takes, over several', { timeout: 90_000 }, async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Years of events' });
    await setWebhook(t, owner, bot.id, receiver.endpoint('years').url);
    await pastEvents(owner, bot.id, { status: 'delivered', daysAgo: 45, attempts: 2, count: 5_000 });
    const [kept] = await pastEvents(owner, bot.id, { status: 'delivered', daysAgo: 1, attempts: 2 });

    await until('the backlog forgotten', async () => (await storedDeliveries(bot.id)) === 1, 60_000);
    const log = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/webhook-deliveries`, headers: bearer(owner.accessToken) });
    expect((log.json().data as Shown[]).map((delivery) => delivery.id)).toEqual([kept]);
    expect(await storedAttempts(kept!)).toBe(2);
  });
});
