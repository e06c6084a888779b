// A chatbot deleted while a request that names it is under way: the request was for something
// that is gone, so it answers 404 as if it came a moment later, and stores nothing (§10).
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '10000/1m', RATE_LIMIT_KNOWLEDGE_USER: '100/1m' });
});
afterAll(async () => {
  await t.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const deleteChatbot = (user: RegisteredUser, id: string) => t.request({ method: 'DELETE', url: `/v1/chatbots/${id}`, headers: bearer(user.accessToken) });

function expectGoneOr(response: { statusCode: number; body: string; headers: Record<string, unknown> }, ...fine: number[]) {
  expect([...fine, 404], response.body).toContain(response.statusCode);
  if (response.statusCode === 404) {
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(response.body).code).toBe('not_found');
  }
}

describe('a knowledge document uploaded while its chatbot is deleted', () => {
  it('answers 404 and stores no document', async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user);
    // Long enough that chunking it is still going on when the chatbot goes.
    const content = Array.from({ length: 45_000 }, (_, i) => `w${i}x`).join(' ');
    const documentsBefore = await t.count('knowledge_documents');
    const upload = t.request({ method: 'POST', url: `/v1/chatbots/${bot.id}/knowledge`, headers: bearer(user.accessToken), payload: { title: 'Handbook', content } });
    await sleep(50);
    expect((await deleteChatbot(user, bot.id)).statusCode).toBe(204);
    expectGoneOr(await upload);
    expect(await t.count('knowledge_documents')).toBe(documentsBefore);
  });
});

describe('conversations started while their chatbot is deleted', () => {
  it('are each created (and go with the chatbot) or answered 404, never 500', async () => {
    const user = await registerUser(t);
    const answers: Array<{ statusCode: number; body: string; headers: Record<string, unknown> }> = [];
    // The delete is sent a little later each time, so some round lands between a start's
    // finding the chatbot and its storing the conversation.
    for (let turns = 0; turns < 40; turns++) {
      const bot = await createChatbot(t, user);
      const h = bearer(user.accessToken);
      const starts = [
        t.request({ method: 'POST', url: '/v1/conversations', headers: h, payload: { chatbot_id: bot.id } }),
        t.request({ method: 'POST', url: '/v1/chat', headers: h, payload: { chatbot_id: bot.id, message: 'Hello' } }),
      ];
      for (let i = 0; i < turns; i++) await nextTurn();
      const deleted = deleteChatbot(user, bot.id);
      answers.push(...(await Promise.all(starts)));
      expect((await deleted).statusCode).toBe(204);
    }
    for (const answer of answers) expectGoneOr(answer, 201);
    const left = json(await t.request({ method: 'GET', url: '/v1/conversations', headers: bearer(user.accessToken) }));
    expect(left.data).toEqual([]);
  });
});
