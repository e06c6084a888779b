// Deactivation stops everything of a user at once (§3; their public chatbots answer 404, their
// keys 401). Their webhooks went on: events already queued were sent and retried for up to a day,
// so an account deactivated for pointing its webhook at someone else's server kept hitting it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli-users.js';
import { createScoped } from '../../src/db/scope.js';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { completedEvent, setWebhook, WEBHOOK_TEST_ENV } from './events.js';

let receiver: FakeWebhooks;
let t: TestApp;
let admin: RegisteredUser;

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  t = await createTestApp(WEBHOOK_TEST_ENV);
  admin = await registerUser(t);
  await runUsersCommand(['promote', admin.username], t.database.sql);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

/** The delivery as stored: its owner, deactivated, can no longer read the log. */
async function settled(ownerId: string, eventId: string, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await createScoped(t.database.app).user(ownerId, ({ sql }) =>
      sql.query<{ status: string; last_error: string | null }>('SELECT status, last_error FROM webhook_deliveries WHERE id = $1', [eventId]),
    );
    if (row && row.status !== 'pending') return row;
    if (Date.now() > until) throw new Error(`delivery ${eventId} still pending after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a deactivated owner's webhook", () => {
  it('is sent nothing more: a queued event waiting for a retry fails, naming why', { timeout: 60_000 }, async () => {
    const owner = await registerUser(t);
    const endpoint = receiver.endpoint('deactivated');
    endpoint.script({ status: 200, hang: true });
    const bot = await createChatbot(t, owner, { name: 'Soon stopped' });
    await setWebhook(t, owner, bot.id, endpoint.url);
    const event = await completedEvent(t, owner, bot.id);
    await endpoint.waitFor(1);

    const deactivated = await t.request({ method: 'PATCH', url: `/v1/admin/users/${owner.id}`, headers: bearer(admin.accessToken), payload: { is_active: false } });
    expect(deactivated.statusCode).toBe(200);

    const delivery = await settled(owner.id, event.eventId!);
    expect(delivery.status).toBe('failed');
    expect(delivery.last_error).toMatch(/deactivated/);
    expect(endpoint.received).toHaveLength(1);
  });
});
