// A delivery's attempts are kept, one per try and one more per redelivery, and nothing bounds how
// often an owner redelivers: the delivery log answered every attempt of each of up to 100
// deliveries, so one delivery redelivered a few thousand times made every read of the log as
// large. The log shows each delivery's latest attempts and how many there were.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { completedEvent, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

let receiver: FakeWebhooks;
let t: TestApp;
let owner: RegisteredUser;

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  t = await createTestApp(WEBHOOK_TEST_ENV);
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

const ATTEMPTS = 3000;

describe('a delivery with thousands of attempts', () => {
  it('is shown with its latest attempts, oldest of them first, and its count', { timeout: 60_000 }, async () => {
    const bot = await createChatbot(t, owner, { name: 'Redelivered often' });
    await setWebhook(t, owner, bot.id, receiver.endpoint('often').url);
    const event = await completedEvent(t, owner, bot.id);
    await waitForDelivery(t, owner, bot.id, event.eventId!, (delivery) => delivery.status === 'delivered');
    // What 2,999 redeliveries leave behind, written at once.
    await t.database.sql.query(
      `INSERT INTO webhook_attempts (delivery_id, attempt, user_id, started_at, status_code, error, latency_ms)
       SELECT $1::uuid, g, $2::uuid, now(), 200, NULL, 3 FROM generate_series(2, $3::int) AS g`,
      [event.eventId, owner.id, ATTEMPTS],
    );
    await t.database.sql.query('UPDATE webhook_deliveries SET attempts = $2 WHERE id = $1', [event.eventId, ATTEMPTS]);

    const log = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/webhook-deliveries`, headers: bearer(owner.accessToken) });
    expect(log.statusCode, log.body).toBe(200);
    const [shown] = log.json().data;
    expect(shown.attempt_count).toBe(ATTEMPTS);
    expect(shown.attempts.map((attempt: { attempt: number }) => attempt.attempt)).toEqual(Array.from({ length: 50 }, (_, i) => ATTEMPTS - 49 + i));
    expect(log.body.length).toBeLessThan(20_000);

    const again = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/webhook-deliveries/${event.eventId}/redeliver`, headers: bearer(owner.accessToken) });
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json().attempts).toHaveLength(50);
  });

  it('shows every attempt of a delivery with few', { timeout: 60_000 }, async () => {
    const bot = await createChatbot(t, owner, { name: 'Delivered once' });
    await setWebhook(t, owner, bot.id, receiver.endpoint('once').url);
    const event = await completedEvent(t, owner, bot.id);
    const delivered = await waitForDelivery(t, owner, bot.id, event.eventId!, (delivery) => delivery.status === 'delivered');
    expect(delivered.attempts.map((attempt) => attempt.attempt)).toEqual([1]);
    expect((delivered as unknown as { attempt_count: number }).attempt_count).toBe(1);
  });
});
