// A webhook url may name any host, and its owner reads each attempt's error in the delivery log.
// A name that resolves to a private address is refused without connecting, but the refusal said
// which address the server's DNS gave for it ("db.internal: 10.1.2.3 is a private address"):
// any account could map the names of the network Parley runs in (a cluster's services, a cloud's
// internal zone) to their addresses, one webhook url at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { completedEvent, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

let receiver: FakeWebhooks;
let t: TestApp;
let owner: RegisteredUser;

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  t = await createTestApp({ ...WEBHOOK_TEST_ENV, WEBHOOK_ALLOW_PRIVATE: 'false' });
  owner = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

describe('a webhook host name that resolves to a non-public address', () => {
  it('is refused without connecting, and the delivery log does not tell the address it resolves to', async () => {
    const connectionsBefore = receiver.connections();
    // *.localhost is loopback whatever the DNS says (RFC 6761): the same refusal as a DNS answer's.
    const url = `http://service.localhost:${receiver.port}/hooks/inside`;
    const bot = await createChatbot(t, owner, { name: 'Looking inside' });
    await setWebhook(t, owner, bot.id, url);
    const event = await completedEvent(t, owner, bot.id);
    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.attempts.length > 0 && d.attempts[0]!.error !== null);
    const [attempt] = delivery.attempts;
    expect(attempt).toMatchObject({ status_code: null, latency_ms: null });
    expect(attempt!.error).toBe('address refused: service.localhost: an address of the name is not a public unicast address');
    expect(attempt!.error).not.toMatch(/127\.0\.0\.1|::1|loopback/);
    expect(receiver.connections()).toBe(connectionsBefore);
  });
});
