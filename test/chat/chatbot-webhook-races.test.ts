// §12 "Webhooks": the secret is made when webhook_url is set where there was none and shown that
// once. Two changes of the url at the same moment (a double-clicked save, two tabs) must leave a
// webhook whose deliveries verify with the one secret that was shown, or no webhook at all.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks, type ReceivedWebhook } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { completedEvent, setWebhook, WEBHOOK_TEST_ENV } from '../webhooks/events.js';

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

const patchUrl = (chatbotId: string, url: string | null) =>
  t.request({ method: 'PATCH', url: `/v1/chatbots/${chatbotId}`, headers: bearer(owner.accessToken), payload: { webhook_url: url } });

const verifies = (secret: string, received: ReceivedWebhook) => {
  try {
    new Webhook(secret).verify(received.body, received.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
};

describe('webhook_url set twice at once where there was none', () => {
  it('shows one secret, and the deliveries verify with it', async () => {
    for (let round = 0; round < 3; round++) {
      const endpoint = receiver.endpoint(`double-${round}`);
      const bot = await createChatbot(t, owner, { name: `Double ${round}` });
      const answers = await Promise.all([patchUrl(bot.id, endpoint.url), patchUrl(bot.id, endpoint.url)]);
      for (const answer of answers) expect(answer.statusCode, answer.body).toBe(200);
      const shown = answers.map((answer) => json(answer).webhook_secret).filter((secret) => secret !== undefined);
      expect(shown).toHaveLength(1);

      await completedEvent(t, owner, bot.id);
      const [received] = await endpoint.waitFor(1);
      expect(verifies(shown[0], received!)).toBe(true);
    }
  });
});

describe('webhook_url turned off and set again at once', () => {
  it('leaves the webhook off, or on with a secret shown that its deliveries verify with', async () => {
    for (let round = 0; round < 6; round++) {
      const endpoint = receiver.endpoint(`flip-${round}`);
      const bot = await createChatbot(t, owner, { name: `Flip ${round}` });
      await setWebhook(t, owner, bot.id, endpoint.url);
      const [off, on] = await Promise.all([patchUrl(bot.id, null), patchUrl(bot.id, `${endpoint.url}?again`)]);
      expect(off.statusCode, off.body).toBe(200);
      expect(on.statusCode, on.body).toBe(200);

      const now = json(await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken) }));
      if (now.webhook_url === null) {
        expect(now.webhook_enabled).toBe(false);
        continue;
      }
      const secret = json(on).webhook_secret;
      expect(secret, 'the url is set again after the secret was forgotten: a new one is shown').toBeDefined();
      await completedEvent(t, owner, bot.id);
      const [received] = await endpoint.waitFor(1);
      expect(verifies(secret, received!)).toBe(true);
    }
  });
});
