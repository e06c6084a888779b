// A reply the model cut off half-way (its stream broke after part of the answer was sent) is
// stored `failed`, and its message shows the tokens it took. Those tokens were spent: the model
// read the prompt and wrote the part the client received. They count in /v1/usage and in the
// chatbot's monthly budget (not as a message: `messages` counts replies that did not fail), or a
// budgeted chatbot whose replies keep breaking answers on for ever at no cost to its budget.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, parseSse, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';

// 200 words: a stream cut after 150 of them has sent about 300 tokens.
const LONG_ANSWER = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');

let fake: FakeLlm;
let t: TestApp;
beforeAll(async () => {
  fake = await startFakeLlm({ reply: () => LONG_ANSWER });
  t = await createTestApp(fakeLlmEnv(fake.url, { LLM_MAX_RETRIES: '0' }));
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

type Day = { date: string; messages: number; prompt_tokens: number; completion_tokens: number };

async function usageOf(user: RegisteredUser, chatbotId: string): Promise<Day[]> {
  const response = await t.request({ method: 'GET', url: `/v1/usage?chatbot_id=${chatbotId}`, headers: bearer(user.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data;
}

const totals = (days: Day[]) => days.reduce((sum, day) => ({ messages: sum.messages + day.messages, prompt: sum.prompt + day.prompt_tokens, completion: sum.completion + day.completion_tokens }), { messages: 0, prompt: 0, completion: 0 });

describe('a reply the model cut off half-way', () => {
  it('counts the tokens its message shows in the usage and the budget, not as a message', async () => {
    const owner = await registerUser(t);
    const bot = await createChatbot(t, owner, { name: 'Budgeted', token_budget_monthly: 100 });
    const chat = await createConversation(t, owner, { chatbot_id: bot.id });

    fake.fail({ kind: 'stream-error', afterChunks: 150 });
    const cut = await sendMessage(t, owner, chat.id, { content: 'tell me everything', stream: true });
    const events = parseSse(cut.body);
    expect(events.filter((e) => e.event === 'message.delta').length).toBeGreaterThan(100);
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'llm_unavailable' } });

    const messages = json(await t.request({ method: 'GET', url: `/v1/conversations/${chat.id}/messages`, headers: bearer(owner.accessToken) })).data;
    const reply = messages.at(-1);
    expect(reply).toMatchObject({ role: 'assistant', status: 'failed' });
    expect(reply.content.length).toBeGreaterThan(500);
    expect(reply.usage.completion_tokens).toBeGreaterThan(100);

    expect(totals(await usageOf(owner, bot.id))).toEqual({ messages: 0, prompt: reply.usage.prompt_tokens, completion: reply.usage.completion_tokens });
    // Three times its budget went out: the next turn is refused without calling the model.
    const calls = fake.requests.length;
    const next = await sendMessage(t, owner, chat.id, { content: 'and more?' });
    expect(next.statusCode, next.body).toBe(429);
    expect(json(next).code).toBe('quota_exceeded');
    expect(fake.requests.length).toBe(calls);
  });

  it('counts as much through an API key, budgeted or not', async () => {
    const owner = await registerUser(t);
    for (const budget of [100, null]) {
      const bot = await createChatbot(t, owner, { name: `Key bot ${budget}`, token_budget_monthly: budget });
      const key = await createApiKey(t, owner.accessToken, bot.id);
      fake.fail({ kind: 'stream-error', afterChunks: 150 });
      const cut = await t.request({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: { authorization: `Bearer ${key.key}` },
        payload: { model: bot.slug, stream: true, messages: [{ role: 'user', content: 'tell me everything' }] },
      });
      expect(cut.statusCode).toBe(200);
      expect(cut.body).toContain('"error"');
      expect(cut.body).toContain('word120');
      // Unbudgeted usage is written a moment after the answer.
      await vi.waitFor(async () => {
        const sum = totals(await usageOf(owner, bot.id));
        expect(sum.messages).toBe(0);
        expect(sum.completion).toBeGreaterThan(100);
        expect(sum.prompt).toBeGreaterThan(0);
      }, { timeout: 10_000, interval: 100 });
    }
  });
});
