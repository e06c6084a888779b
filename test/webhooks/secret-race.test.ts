// The webhook secret is shown once, when a url is set where there was none. Two requests setting
// it at once (a form sent twice, a deploy script and a person) each read "no webhook yet", each
// made a secret and showed it, and the later write replaced the earlier's: one caller kept a
// secret that no delivery was ever signed with (on PostgreSQL, 10 pairs of 10).
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { completedEvent, waitForDelivery, WEBHOOK_TEST_ENV } from './events.js';

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

describe('two requests setting a webhook url at once', () => {
  it('show a secret only if deliveries are signed with it', { timeout: 60_000 }, async () => {
    for (let round = 0; round < 10; round++) {
      const endpoint = receiver.endpoint(`twice-${round}`);
      const bot = await createChatbot(t, owner, { name: `Set twice ${round}` });
      const answers = await Promise.all(
        [1, 2].map(() => t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { webhook_url: endpoint.url } })),
      );
      expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
      const shown = answers.map((answer) => answer.json().webhook_secret as string | undefined).filter((secret) => secret !== undefined);
      expect(shown.length).toBeGreaterThan(0);

      const event = await completedEvent(t, owner, bot.id);
      await waitForDelivery(t, owner, bot.id, event.eventId!, (d) => d.status === 'delivered');
      const [received] = endpoint.received;
      for (const secret of shown) {
        expect(() => new Webhook(secret).verify(received!.body, received!.headers as Record<string, string>), `round ${round}`).not.toThrow();
      }
    }
  });
});
