// §5 temperature is 0–2: a value inside that range but too small for the stored 4-byte float
// (1e-50, the smallest double) is a temperature of 0, not a fault of the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const TINY = [1e-46, 1e-50, 5e-324];

describe('a temperature too small to store', () => {
  it('creates the chatbot with temperature 0', async () => {
    const user = await registerUser(t);
    for (const temperature of TINY) {
      const response = await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(user.accessToken), payload: { name: 'Cold', temperature } });
      expect(response.statusCode, response.body).toBe(201);
      expect(json(response).temperature).toBe(0);
    }
  });

  it("changes a chatbot's temperature to 0", async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { temperature: 0.7 });
    for (const temperature of TINY) {
      const response = await t.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(user.accessToken), payload: { temperature } });
      expect(response.statusCode, response.body).toBe(200);
      expect(json(response).temperature).toBe(0);
    }
    const read = json(await t.request({ method: 'GET', url: `/v1/chatbots/${bot.id}`, headers: bearer(user.accessToken) }));
    expect(read.temperature).toBe(0);
  });

  it('keeps the smallest temperature the column holds as given', async () => {
    const user = await registerUser(t);
    const response = await t.request({ method: 'POST', url: '/v1/chatbots', headers: bearer(user.accessToken), payload: { name: 'Cool', temperature: 1e-6 } });
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response).temperature).toBeCloseTo(1e-6, 10);
  });
});
