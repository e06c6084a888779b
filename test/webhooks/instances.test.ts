import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, createTestDatabase, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { completedEvent, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

// §9.4, §11: deliveries are queued in the database, so they survive a restart between attempts,
// and instances sharing the database take each delivery once (FOR UPDATE SKIP LOCKED + a lease).

let receiver: FakeWebhooks;
let database: Database;
let drop: () => Promise<void>;
const apps: TestApp[] = [];

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  ({ database, drop } = await createTestDatabase());
});
afterAll(async () => {
  for (const app of apps) await app.app.close();
  await drop?.();
  await receiver?.close();
});

/** An instance on the shared database; closing it leaves the database to the others. */
async function instance(env: Record<string, string> = {}): Promise<TestApp> {
  const app = await createTestApp({ ...WEBHOOK_TEST_ENV, ...env }, { database });
  apps.push(app);
  return app;
}

async function stop(app: TestApp): Promise<void> {
  apps.splice(apps.indexOf(app), 1);
  await app.app.close();
}

describe('a restart between attempts', () => {
  it('leaves the retry to the next instance, with the same webhook-id', async () => {
    // Retries wait long enough for the restart to happen in between.
    const first = await instance({ WEBHOOK_RETRY_SCHEDULE: '2s' });
    const owner = await registerUser(first);
    const endpoint = receiver.endpoint('restart');
    const bot = await createChatbot(first, owner, { name: 'Restarted' });
    await setWebhook(first, owner, bot.id, endpoint.url);
    endpoint.script({ status: 500 });
    const event = await completedEvent(first, owner, bot.id);
    await waitForDelivery(first, owner, bot.id, event.eventId!, (d) => d.attempts[0]?.status_code === 500);
    await stop(first);
    expect(endpoint.received).toHaveLength(1);

    const second = await instance();
    const delivery = await waitForDelivery(second, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    expect(delivery.attempts.map((a) => a.status_code)).toEqual([500, 200]);
    expect(endpoint.received.map((r) => r.headers['webhook-id'])).toEqual([event.eventId, event.eventId]);
    expect(endpoint.received[1]!.body).toBe(endpoint.received[0]!.body);
    await stop(second);
  });
});

describe('two instances on one database', () => {
  it('deliver each of many events exactly once, sharing the work', { timeout: 60_000 }, async () => {
    // Nothing fails here, so nothing may be sent twice: the send timeout and the lease are far above
    // the receiver's 300 ms, so that a machine slowed by other work still sees every first attempt
    // through (the 1 s test timeout would turn a starved send into a legitimate retry).
    const room = { WEBHOOK_TIMEOUT_MS: '15000', WEBHOOK_LEASE_MS: '30000' };
    const a = await instance(room);
    const b = await instance(room);
    const owner = await registerUser(a);
    const endpoint = receiver.endpoint('shared');
    const bot = await createChatbot(a, owner, { name: 'Popular' });
    await setWebhook(a, owner, bot.id, endpoint.url);
    const count = 40;
    // Slow answers: an instance holds at most 16 deliveries at once, so the other one must take some.
    endpoint.script(...Array.from({ length: count }, () => ({ status: 200, delayMs: 300 })));
    const events = await Promise.all(Array.from({ length: count }, () => completedEvent(a, owner, bot.id)));
    await endpoint.waitFor(count, 45_000);
    for (const event of events) {
      const delivery = await waitForDelivery(b, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
      // A second send would have been a second claim, and so a second attempt.
      expect(delivery.attempts, `${event.eventId}: ${JSON.stringify(delivery.attempts)}`).toHaveLength(1);
    }
    const ids = endpoint.received.map((r) => r.headers['webhook-id'] as string);
    expect(ids).toHaveLength(count);
    expect(new Set(ids)).toEqual(new Set(events.map((e) => e.eventId)));
    const deliveredBy = (app: TestApp) => app.logs.filter((line) => line.includes('"msg":"webhook delivered"')).length;
    expect(deliveredBy(a)).toBeGreaterThan(0);
    expect(deliveredBy(b)).toBeGreaterThan(0);
    expect(deliveredBy(a) + deliveredBy(b)).toBe(count);
  });
});
