import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, createTestDatabase, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import type { Database } from '../../src/db/client.js';
import { completedEvent, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

// §12 "Webhooks", server-side request forgery: a webhook reaches only public unicast addresses,
// checked on the address connected to (literal IPs, their numeric and IPv6-mapped spellings, and
// DNS answers) at every attempt, unless WEBHOOK_ALLOW_PRIVATE=true. Every private form below
// points at the loopback receiver's port, so a connection let through would be counted there.
// No address outside loopback is ever connected to: the refused ones are refused before connecting.

let receiver: FakeWebhooks;
let database: Database;
let drop: () => Promise<void>;
/** WEBHOOK_ALLOW_PRIVATE=true: for receivers on the owner's own network. */
let open: TestApp;
/** The default: public addresses only. */
let guarded: TestApp;
let owner: RegisteredUser;

beforeAll(async () => {
  receiver = await startFakeWebhooks();
  ({ database, drop } = await createTestDatabase());
  open = await createTestApp(WEBHOOK_TEST_ENV, { database });
  owner = await registerUser(open);
});
afterAll(async () => {
  if (!guarded) await open?.app.close();
  await guarded?.app.close();
  await drop?.();
  await receiver?.close();
});

const privateForms = () => {
  const port = receiver.port;
  return [
    `http://127.0.0.1:${port}/hooks/ssrf`,
    `http://0x7f.1:${port}/hooks/ssrf`,
    `http://2130706433:${port}/hooks/ssrf`,
    `http://0177.0.0.1:${port}/hooks/ssrf`,
    `http://[::ffff:127.0.0.1]:${port}/hooks/ssrf`,
    `http://[::ffff:7f00:1]:${port}/hooks/ssrf`,
    `http://[::1]:${port}/hooks/ssrf`,
    `http://169.254.169.254:${port}/latest/meta-data/`,
    `http://10.0.0.1:${port}/hooks/ssrf`,
    `http://0.0.0.0:${port}/hooks/ssrf`,
  ];
};

describe('with WEBHOOK_ALLOW_PRIVATE=true', () => {
  it('accepts private addresses, in any spelling, and delivers to them', async () => {
    const endpoint = receiver.endpoint('allowed');
    const bot = await createChatbot(open, owner, { name: 'Intranet' });
    const hex = endpoint.url.replace('127.0.0.1', '0x7f.1');
    expect((await setWebhook(open, owner, bot.id, hex)).webhook_url).toBe(hex);
    const event = await completedEvent(open, owner, bot.id);
    await waitForDelivery(open, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    expect(endpoint.received.map((r) => r.headers['webhook-id'])).toEqual([event.eventId]);
  });
});

describe('by default (public addresses only)', () => {
  /** Chatbots whose urls were stored while private addresses were allowed; then the server restarts without. */
  let bots: Array<{ id: string; url: string }>;
  let localhostBot: { id: string; url: string };

  beforeAll(async () => {
    bots = [];
    for (const url of privateForms()) {
      const bot = await createChatbot(open, owner, { name: 'Pointed inward' });
      await setWebhook(open, owner, bot.id, url);
      bots.push({ id: bot.id, url });
    }
    await open.app.close();
    guarded = await createTestApp({ ...WEBHOOK_TEST_ENV, WEBHOOK_ALLOW_PRIVATE: 'false' }, { database });
    const bot = await createChatbot(guarded, owner, { name: 'Named inward' });
    // A name is only resolved when a delivery connects: localhost is accepted here, refused there.
    const url = `http://localhost:${receiver.port}/hooks/ssrf`;
    expect((await setWebhook(guarded, owner, bot.id, url)).webhook_url).toBe(url);
    localhostBot = { id: bot.id, url };
  });

  it('refuses a literal private address when it is written (422), in every spelling', async () => {
    const bot = await createChatbot(guarded, owner, { name: 'Refused' });
    for (const url of privateForms()) {
      const response = await guarded.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { webhook_url: url } });
      expect(response.statusCode, url).toBe(422);
      expect(response.json().errors[0]).toMatchObject({ path: 'body.webhook_url', message: expect.stringMatching(/public/) });
    }
    const got = await guarded.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    expect(got.json().webhook_url).toBeNull();
  });

  it('refuses every private address at delivery, DNS answers included, without connecting', async () => {
    const target = receiver.endpoint('ssrf');
    const connectionsBefore = receiver.connections();
    const events = [];
    for (const bot of [...bots, localhostBot]) events.push({ bot, event: await completedEvent(guarded, owner, bot.id) });
    for (const { bot, event } of events) {
      const delivery = await waitForDelivery(guarded, owner, bot.id, event.eventId!, (d) => d.attempts.length > 0 && d.attempts[0]!.error !== null);
      const [attempt] = delivery.attempts;
      expect(attempt!.error, bot.url).toMatch(/^address refused: .*not a public unicast address/);
      expect(attempt!.status_code, bot.url).toBeNull();
      // Nothing was sent: no connection, so no latency to report.
      expect(attempt!.latency_ms, bot.url).toBeNull();
    }
    const localhost = events.at(-1)!;
    const refused = await waitForDelivery(guarded, owner, localhost.bot.id, localhost.event.eventId!, (d) => d.attempts.length > 0);
    expect(refused.attempts[0]!.error).toBe('address refused: localhost: an address of the name is not a public unicast address');
    expect(target.received).toEqual([]);
    expect(receiver.connections()).toBe(connectionsBefore);
  });

  it('asks the DNS for a name, not the hosts file: a name that has no address there fails the attempt without connecting', async () => {
    // Names under .invalid never resolve (RFC 6761); sub.localhost is loopback whatever the DNS says.
    const cases = [
      { url: `http://receiver.invalid:${receiver.port}/hooks/nowhere`, error: /^(host not found|no answer from the DNS for the host|host lookup failed \(E[A-Z]+\))$/ },
      { url: `http://app.localhost:${receiver.port}/hooks/nowhere`, error: /^address refused: app\.localhost: an address of the name is not a public unicast address$/ },
    ];
    const connectionsBefore = receiver.connections();
    for (const { url, error } of cases) {
      const bot = await createChatbot(guarded, owner, { name: 'Named nowhere' });
      await setWebhook(guarded, owner, bot.id, url);
      const event = await completedEvent(guarded, owner, bot.id);
      const delivery = await waitForDelivery(guarded, owner, bot.id, event.eventId!, (d) => d.attempts.length > 0 && d.attempts[0]!.error !== null);
      expect(delivery.attempts[0]!.error, url).toMatch(error);
      expect(delivery.attempts[0]!.status_code, url).toBeNull();
    }
    expect(receiver.endpoint('nowhere').received).toEqual([]);
    expect(receiver.connections()).toBe(connectionsBefore);
  });
});
