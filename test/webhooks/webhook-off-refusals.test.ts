// Redeliver and rotate-secret with the chatbot's webhook off were refused 422 validation_failed
// without `errors[]`, where every other 422 names the request's fields that failed: a client
// parsing it found nothing to point at, and nothing in either request was wrong. The webhook
// being off is the chatbot's state, so the refusal is 409 `webhook_off`, as the API's other
// refusals of what a resource's state does not allow (nothing_to_regenerate, conversation_busy).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { completedEvent, deliveryOf, setWebhook, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

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

/** What a client parses of the refusal. */
function expectWebhookOff(response: { statusCode: number; headers: Record<string, unknown>; body: string; json(): any }) {
  expect(response.statusCode, response.body).toBe(409);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = response.json();
  expect(problem).toMatchObject({ type: 'urn:parley:problem:webhook_off', title: 'Conflict', status: 409, code: 'webhook_off' });
  expect(problem.detail).toMatch(/webhook_url/);
  expect(problem.detail).toMatch(/PATCH \/v1\/chatbots\/\{id\}/);
  expect(problem.request_id).toEqual(expect.any(String));
  expect(problem).not.toHaveProperty('errors');
}

const redeliver = (botId: string, eventId: string) =>
  t.request({ method: 'POST', url: `/v1/chatbots/${botId}/webhook-deliveries/${eventId}/redeliver`, headers: bearer(owner.accessToken), payload: {} });

describe('with the webhook off', () => {
  it('redeliver is refused 409 webhook_off once the url is removed, and the delivery stays as it was', async () => {
    const endpoint = receiver.endpoint('removed');
    const bot = await createChatbot(t, owner, { name: 'Url removed' });
    await setWebhook(t, owner, bot.id, endpoint.url);
    const event = await completedEvent(t, owner, bot.id);
    const before = await waitForDelivery(t, owner, bot.id, event.eventId!, (delivery) => delivery.status === 'delivered');
    await setWebhook(t, owner, bot.id, null);

    expectWebhookOff(await redeliver(bot.id, event.eventId!));
    expect(await deliveryOf(t, owner, bot.id, event.eventId!)).toEqual(before);
    expect(endpoint.received).toHaveLength(1);
  });

  it('redeliver is refused 409 webhook_off after a receiver answered 410 Gone', async () => {
    const endpoint = receiver.endpoint('gone');
    endpoint.script({ status: 410 });
    const bot = await createChatbot(t, owner, { name: 'Receiver gone' });
    await setWebhook(t, owner, bot.id, endpoint.url);
    const event = await completedEvent(t, owner, bot.id);
    const before = await waitForDelivery(t, owner, bot.id, event.eventId!, (delivery) => delivery.status === 'failed');

    expectWebhookOff(await redeliver(bot.id, event.eventId!));
    expect(await deliveryOf(t, owner, bot.id, event.eventId!)).toEqual(before);
    expect(endpoint.received).toHaveLength(1);
  });

  it('rotating the secret is refused 409 webhook_off without a url, and the chatbot stays as it was', async () => {
    const bot = await createChatbot(t, owner, { name: 'Never hooked' });
    const before = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });

    expectWebhookOff(await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/webhook-secret`, headers: bearer(owner.accessToken) }));
    const after = await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) });
    expect(after.json()).toEqual(before.json());
    // A url set afterwards comes with its first secret, shown: the refused rotation made none.
    const set = await setWebhook(t, owner, bot.id, receiver.endpoint('later').url);
    expect(set.webhook_secret).toMatch(/^whsec_/);
  });

  it('a body with fields is still 422 validation_failed, naming them', async () => {
    const bot = await createChatbot(t, owner, { name: 'Asked with fields' });
    const response = await t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/webhook-secret`, headers: bearer(owner.accessToken), payload: { now: true } });
    expect(response.statusCode).toBe(422);
    expect(response.json().errors).toEqual([{ path: 'body.now', message: 'is not an accepted field' }]);
  });
});
