// A key created while its chatbot is being deleted: the owner asked for a key to something that is
// gone, so the answer is the 404 it would get a moment later, never a 500, and no key is left.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('API keys created while their chatbot is deleted', () => {
  it('are each created (and go with the chatbot) or answered 404, never 500', async () => {
    const owner = await registerUser(t);
    const h = bearer(owner.accessToken);
    const answers: Array<{ statusCode: number; body: string }> = [];
    // The delete is sent a little later each round, so some round lands between a creation's
    // finding the chatbot and its storing the key.
    for (let round = 0; round < 30; round++) {
      const bot = await createChatbot(t, owner);
      const creations = Array.from({ length: 4 }, () => t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/keys`, headers: h, payload: {} }));
      for (let i = 0; i < round; i++) await nextTurn();
      const deleted = t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}`, headers: h });
      answers.push(...(await Promise.all(creations)));
      expect((await deleted).statusCode).toBe(204);
    }
    for (const answer of answers) {
      expect([201, 404], answer.body).toContain(answer.statusCode);
      if (answer.statusCode === 404) expect(JSON.parse(answer.body).code).toBe('not_found');
    }
    expect(await t.count('api_keys')).toBe(0);
  });
});
