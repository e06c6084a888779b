import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks, type ReceivedWebhook } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { completedEvent, deliveryOf, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

// §9.4 and §12 "Webhooks": a completed conversation reaches the chatbot's webhook_url as a
// Standard Webhooks 1.0 delivery, checked here with the `standardwebhooks` library itself; failed
// attempts are retried with the same webhook-id, redirects are not followed, a 410 turns the
// webhook off; the owner reads the log, redelivers, and rotates the secret.

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

/** A chatbot of the owner's whose webhook is this endpoint; with the secret shown when it was set. */
async function hookedBot(name: string) {
  const endpoint = receiver.endpoint(name);
  const bot = await createChatbot(t, owner, { name: `Hooked ${name}` });
  const set = await setWebhook(t, owner, bot.id, endpoint.url);
  return { bot, endpoint, secret: set.webhook_secret as string };
}

const verify = (secret: string, received: ReceivedWebhook) =>
  new Webhook(secret).verify(received.body, received.headers as Record<string, string>) as Record<string, any>;

describe('the secret', () => {
  it('is shown once, when the url is first set, in the Standard Webhooks form; never by GET or list', async () => {
    const bot = await createChatbot(t, owner, { name: 'Secretive' });
    expect(bot).toMatchObject({ webhook_url: null, webhook_enabled: false });
    expect(bot).not.toHaveProperty('webhook_secret');
    const set = await setWebhook(t, owner, bot.id, 'https://hooks.example.com/parley');
    expect(set.webhook_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(set.webhook_secret.slice(6), 'base64')).toHaveLength(32);
    expect(set).toMatchObject({ webhook_url: 'https://hooks.example.com/parley', webhook_enabled: true });

    const got = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    const listed = await t.request({ method: 'GET', url: '/v1/chatbots?limit=100', headers: bearer(owner.accessToken) });
    for (const body of [got.body, listed.body]) {
      expect(body).not.toContain(set.webhook_secret);
      expect(body).not.toContain('webhook_secret');
    }
    // Another url keeps the secret, unshown; only a url set where there was none makes one.
    const changed = await setWebhook(t, owner, bot.id, 'https://hooks.example.com/v2');
    expect(changed).not.toHaveProperty('webhook_secret');
    expect(JSON.stringify(changed)).not.toContain(set.webhook_secret);
  });

  it('comes with a chatbot created with a webhook_url', async () => {
    const created = await createChatbot(t, owner, { name: 'Born hooked', webhook_url: 'https://hooks.example.com/born' });
    expect(created.webhook_secret).toMatch(/^whsec_/);
    expect(created.webhook_enabled).toBe(true);
  });

  it('null turns the webhook off and forgets the secret; a url set again makes a new one', async () => {
    const bot = await createChatbot(t, owner, { name: 'On and off', webhook_url: 'https://hooks.example.com/a' });
    const off = await setWebhook(t, owner, bot.id, null);
    expect(off).toMatchObject({ webhook_url: null, webhook_enabled: false });
    const event = await completedEvent(t, owner, bot.id);
    expect(event.eventId).toBeNull();
    const on = await setWebhook(t, owner, bot.id, 'https://hooks.example.com/b');
    expect(on.webhook_secret).toMatch(/^whsec_/);
    expect(on.webhook_secret).not.toBe(bot.webhook_secret);
  });

  it('rotates: the new secret is shown once, and deliveries verify with it and, for a while, with the old one', async () => {
    const { bot, endpoint, secret } = await hookedBot('rotation');
    const rotated = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/webhook-secret`, headers: bearer(owner.accessToken) });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const fresh = rotated.json().webhook_secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(secret);
    const got = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    expect(got.body).not.toContain(fresh);

    const event = await completedEvent(t, owner, bot.id);
    const [received] = await endpoint.waitFor(1);
    expect(verify(fresh, received!).data.conversation_id).toBe(event.conversationId);
    expect(verify(secret, received!).data.conversation_id).toBe(event.conversationId);
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(received!.body, received!.headers as Record<string, string>)).toThrow();
  });

  it('cannot be rotated while the chatbot has no webhook', async () => {
    const bot = await createChatbot(t, owner, { name: 'No hook' });
    const response = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/webhook-secret`, headers: bearer(owner.accessToken), payload: {} });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'webhook_off', detail: expect.stringMatching(/webhook_url/) });
  });
});

describe('webhook_url when written', () => {
  it('must be http(s), without credentials, at most 2048 characters: otherwise 422 and nothing changes', async () => {
    const bot = await createChatbot(t, owner, { name: 'Picky', webhook_url: 'https://hooks.example.com/kept' });
    for (const url of ['ftp://hooks.example.com/x', 'javascript:alert(1)', 'not a url', '/relative/path', 'https://user:pass@hooks.example.com/x', 'https://token@hooks.example.com/x', `https://hooks.example.com/${'a'.repeat(2030)}`, '']) {
      const response = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { webhook_url: url } });
      expect(response.statusCode, url).toBe(422);
      expect(response.json().code).toBe('validation_failed');
      expect(JSON.stringify(response.json().errors), url).toContain('webhook_url');
      const created = await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(owner.accessToken), payload: { name: 'Never', webhook_url: url } });
      expect(created.statusCode, url).toBe(422);
    }
    const got = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    expect(got.json().webhook_url).toBe('https://hooks.example.com/kept');
    const exactly = `https://hooks.example.com/${'a'.repeat(2048 - 'https://hooks.example.com/'.length)}`;
    expect((await setWebhook(t, owner, bot.id, exactly)).webhook_url).toBe(exactly);
  });
});

describe('delivering conversation.completed', () => {
  it('sends the event signed as Standard Webhooks 1.0, verified by the standardwebhooks library', async () => {
    const { bot, endpoint, secret } = await hookedBot('verified');
    const data = { company_name: 'Acme GmbH', company_size: 42, products: [{ name: 'Anvil', price: 10 }], contact_name: 'Dana Ødegård 王' };
    const event = await completedEvent(t, owner, bot.id, data);
    expect(event.eventId).not.toBeNull();
    const [received] = await endpoint.waitFor(1);

    expect(received!.headers['content-type']).toBe('application/json');
    expect(received!.headers['webhook-id']).toBe(event.eventId);
    expect(Math.abs(Number(received!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(received!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const payload = verify(secret, received!);
    expect(payload).toEqual({
      type: 'conversation.completed',
      timestamp: event.completedAt.toISOString(),
      data: { conversation_id: event.conversationId, chatbot_id: bot.id, data, completed_at: expect.any(String), visitor: null },
    });
    expect(new Date(payload.data.completed_at).getTime()).toBe(event.completedAt.getTime());

    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    expect(delivery).toMatchObject({ type: 'conversation.completed', conversation_id: event.conversationId, next_attempt_at: null });
    expect(delivery.delivered_at).not.toBeNull();
    expect(delivery.attempts).toEqual([{ attempt: 1, status_code: 200, error: null, latency_ms: expect.any(Number), started_at: expect.any(String) }]);
    // A changed body fails verification: the signature covers it.
    expect(() => new Webhook(secret).verify(received!.body.replace('Acme', 'Acne'), received!.headers as Record<string, string>)).toThrow();
  });

  it('retries after 500s with the same webhook-id and body, a new timestamp and signature each time', async () => {
    const { bot, endpoint, secret } = await hookedBot('flaky');
    endpoint.script({ status: 500 }, { status: 503 });
    const event = await completedEvent(t, owner, bot.id);
    const received = await endpoint.waitFor(3);
    expect(received.map((r) => r.headers['webhook-id'])).toEqual([event.eventId, event.eventId, event.eventId]);
    expect(new Set(received.map((r) => r.body)).size).toBe(1);
    for (const attempt of received) expect(verify(secret, attempt).data.conversation_id).toBe(event.conversationId);
    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    expect(delivery.attempts.map((a) => [a.attempt, a.status_code])).toEqual([
      [1, 500],
      [2, 503],
      [3, 200],
    ]);
    expect(delivery.attempts[0]!.error).toMatch(/500/);
  });

  it('does not follow a redirect: a 302 is a failed attempt, retried at the same url', async () => {
    const { bot, endpoint } = await hookedBot('redirecting');
    const elsewhere = receiver.endpoint('redirect-target');
    endpoint.script({ status: 302, headers: { location: elsewhere.url } });
    const event = await completedEvent(t, owner, bot.id);
    await endpoint.waitFor(2);
    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    expect(delivery.attempts.map((a) => a.status_code)).toEqual([302, 200]);
    expect(delivery.attempts[0]!.error).toMatch(/redirect/);
    expect(elsewhere.received).toEqual([]);
  });

  it('a 410 Gone turns the webhook off: no more events until the url is set again', async () => {
    const { bot, endpoint } = await hookedBot('gone');
    endpoint.script({ status: 410 });
    const event = await completedEvent(t, owner, bot.id);
    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'failed');
    expect(delivery.attempts.map((a) => a.status_code)).toEqual([410]);
    expect(delivery.next_attempt_at).toBeNull();
    const got = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    expect(got.json()).toMatchObject({ webhook_url: endpoint.url, webhook_enabled: false });
    expect((await completedEvent(t, owner, bot.id)).eventId).toBeNull();

    const again = await setWebhook(t, owner, bot.id, endpoint.url);
    expect(again.webhook_enabled).toBe(true);
    // The secret was never forgotten: the receiver keeps the one it has.
    expect(again).not.toHaveProperty('webhook_secret');
    const next = await completedEvent(t, owner, bot.id);
    await waitForDelivery(t, owner, bot.id, next.eventId!, (d) => d.status === 'delivered');
    expect(endpoint.received.map((r) => r.headers['webhook-id'])).toEqual([event.eventId, next.eventId]);
  });

  it('honours Retry-After: the next attempt waits at least that long', async () => {
    const { bot, endpoint } = await hookedBot('busy');
    endpoint.script({ status: 503, headers: { 'retry-after': '2' } });
    const event = await completedEvent(t, owner, bot.id);
    const waiting = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.attempts[0]?.status_code === 503);
    const first = new Date(waiting.attempts[0]!.started_at).getTime();
    expect(new Date(waiting.next_attempt_at!).getTime() - first).toBeGreaterThanOrEqual(2000);
    const [one, two] = await endpoint.waitFor(2);
    expect(two!.at - one!.at).toBeGreaterThanOrEqual(1900);
  });

  it('a receiver that does not answer times out, and the attempt is retried', async () => {
    const { bot, endpoint } = await hookedBot('silent');
    endpoint.script({ status: 200, hang: true });
    const event = await completedEvent(t, owner, bot.id);
    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    expect(delivery.attempts[0]).toMatchObject({ status_code: null, error: 'no answer within 1000 ms' });
    expect(delivery.attempts[0]!.latency_ms).toBeGreaterThanOrEqual(900);
    expect(delivery.attempts[1]).toMatchObject({ status_code: 200, error: null });
  });

  it('fails for good once every retry of the schedule is spent', async () => {
    const { bot, endpoint } = await hookedBot('down');
    endpoint.script({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    const event = await completedEvent(t, owner, bot.id);
    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'failed');
    // One attempt and one per step of WEBHOOK_RETRY_SCHEDULE (three).
    expect(delivery.attempts.map((a) => a.status_code)).toEqual([500, 500, 500, 500]);
    expect(delivery.next_attempt_at).toBeNull();
    expect(delivery.delivered_at).toBeNull();
  });
});

describe('the delivery log and redelivery', () => {
  it('lists deliveries newest first, a page at a time', async () => {
    const { bot, endpoint } = await hookedBot('paged');
    const events = [];
    for (let i = 0; i < 3; i++) events.push(await completedEvent(t, owner, bot.id));
    await endpoint.waitFor(3);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `limit=2&cursor=${encodeURIComponent(cursor)}` : 'limit=2';
      const page = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/webhook-deliveries?${query}`, headers: bearer(owner.accessToken) });
      expect(page.statusCode, page.body).toBe(200);
      seen.push(...page.json().data.map((d: { id: string }) => d.id));
      cursor = page.json().next_cursor;
    } while (cursor);
    expect(seen).toEqual(events.map((e) => e.eventId).reverse());
    const bad = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}/webhook-deliveries?cursor=forged`, headers: bearer(owner.accessToken) });
    expect(bad.statusCode).toBe(422);
  });

  it('redeliver sends the same event again now, with the same webhook-id and body', async () => {
    const { bot, endpoint, secret } = await hookedBot('again');
    const event = await completedEvent(t, owner, bot.id);
    await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    const response = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/webhook-deliveries/${event.eventId}/redeliver`, headers: bearer(owner.accessToken) });
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json()).toMatchObject({ id: event.eventId, status: 'pending' });
    const [first, second] = await endpoint.waitFor(2);
    expect(second!.headers['webhook-id']).toBe(event.eventId);
    expect(second!.body).toBe(first!.body);
    expect(verify(secret, second!).type).toBe('conversation.completed');
    const delivery = await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered' && d.attempts.length === 2);
    expect(delivery.attempts.map((a) => a.status_code)).toEqual([200, 200]);
  });

  it('redeliver of an unknown delivery is 404; while the webhook is off, 409 webhook_off', async () => {
    const { bot } = await hookedBot('redeliver-refused');
    const unknown = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/webhook-deliveries/0190a000-0000-7000-8000-000000000000/redeliver`, headers: bearer(owner.accessToken) });
    expect(unknown.statusCode).toBe(404);
    const event = await completedEvent(t, owner, bot.id);
    await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    await setWebhook(t, owner, bot.id, null);
    const off = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/webhook-deliveries/${event.eventId}/redeliver`, headers: bearer(owner.accessToken) });
    expect(off.statusCode).toBe(409);
    expect((await deliveryOf(t, owner, bot.id, event.eventId!))!.status).toBe('delivered');
    const extra = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/webhook-deliveries/${event.eventId}/redeliver`, headers: bearer(owner.accessToken), payload: { now: true } });
    expect(extra.statusCode).toBe(422);
    expect(JSON.stringify(extra.json().errors)).toContain('now');
  });

  it('another user reaches none of it (404), and an API key none of it (403)', async () => {
    const { bot, secret } = await hookedBot('private');
    const event = await completedEvent(t, owner, bot.id);
    await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
    const stranger = await registerUser(t);
    const key = await createApiKey(t, owner, bot.id);
    const routes = [
      { method: 'GET' as const, url: `/v1/chatbots/${bot.id}/webhook-deliveries` },
      { method: 'POST' as const, url: `/v1/chatbots/${bot.id}/webhook-deliveries/${event.eventId}/redeliver` },
      { method: 'POST' as const, url: `/v1/chatbots/${bot.id}/webhook-secret` },
    ];
    for (const route of routes) {
      const foreign = await t.request({ ...route, headers: bearer(stranger.accessToken) });
      expect(foreign.statusCode, `${route.method} ${route.url}`).toBe(404);
      expect(foreign.body).not.toContain(event.eventId);
      const keyed = await t.request({ ...route, headers: bearer(key.key) });
      expect(keyed.statusCode, `${route.method} ${route.url}`).toBe(403);
    }
    // Nothing changed: no new attempt, the same secret still verifies.
    const delivery = await deliveryOf(t, owner, bot.id, event.eventId!);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: [{ attempt: 1 }] });
    const [stored] = await t.database.sql.query<{ webhook_secret: string }>('SELECT webhook_secret FROM chatbots WHERE id = $1', [bot.id]);
    expect(stored!.webhook_secret).toBe(secret);
    // A stranger's PATCH of the url is a 404 too, and changes nothing.
    const patched = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(stranger.accessToken), payload: { webhook_url: 'https://evil.example.com/' } });
    expect(patched.statusCode).toBe(404);
  });
});
