// A conversation deleted while its reply is generated: the model was still called and what it
// produced reached the client, so it counts in usage and in the chatbot's monthly budget (§11)
// as any other reply does. Otherwise a caller,
// a key's end user among them, could stream reply after reply past the budget by deleting each
// conversation before its reply ends.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { createChatbot, createConversation, fakeLlmEnv, parseSse, sendMessage } from '../helpers/chat.js';

let fake: FakeLlm;
let t: TestApp;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
});
afterEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const longReply = Array.from({ length: 30 }, (_, i) => `token${i}`).join(' ');

const usageOf = async (user: RegisteredUser) => json(await t.request({ method: 'GET', url: '/v1/usage', headers: bearer(user.accessToken) })).data as any[];

/** A slow reply (streamed or not) whose conversation is deleted once the model is answering. */
async function deletedWhileAnswering(user: RegisteredUser, chatbotId: string, stream: boolean) {
  const conversation = await createConversation(t, user, { chatbot_id: chatbotId });
  fake.setReply(() => longReply);
  fake.setDelays({ chunkDelayMs: 20 });
  const before = fake.requests.length;
  const answer = sendMessage(t, user, conversation.id, { content: 'Tell me everything', stream });
  await fake.waitFor((requests) => requests.length > before);
  await sleep(100);
  const deleted = await t.request({ method: 'DELETE', url: `/v1/conversations/${conversation.id}`, headers: bearer(user.accessToken) });
  expect(deleted.statusCode).toBe(204);
  return answer;
}

describe('a reply whose conversation was deleted while it was generated', () => {
  it('counts in usage, streamed or not', async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user);
    const streamed = await deletedWhileAnswering(user, bot.id, true);
    const events = parseSse(streamed.body);
    // The client got some of the reply's text before the deletion ended it.
    expect(events.filter((event) => event.event === 'message.delta').map((event) => event.data.delta).join('')).toMatch(/^token0 /);
    expect(events.at(-1)?.event).toBe('error');
    const whole = await deletedWhileAnswering(user, bot.id, false);
    expect(whole.statusCode).toBe(404);

    const [today] = await usageOf(user);
    expect(today?.messages).toBe(2);
    expect(today?.completion_tokens).toBeGreaterThan(0);
    expect(today?.prompt_tokens).toBeGreaterThan(0);
  });

  it("spends the chatbot's monthly budget: the next turn is refused once it is spent", async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user, { token_budget_monthly: 20 });
    await deletedWhileAnswering(user, bot.id, true);
    const conversation = await createConversation(t, user, { chatbot_id: bot.id });
    const before = fake.requests.length;
    const next = await sendMessage(t, user, conversation.id, { content: 'And more' });
    expect(next.statusCode, next.body).toBe(429);
    expect(json(next).code).toBe('quota_exceeded');
    expect(fake.requests.length).toBe(before);
  });

  // A deleted chatbot's usage stays spent (migration 0037): the model was paid for this reply too.
  it('counts in usage, and fails nothing, when its chatbot went with it', async () => {
    const user = await registerUser(t);
    const bot = await createChatbot(t, user);
    const conversation = await createConversation(t, user, { chatbot_id: bot.id });
    fake.setReply(() => longReply);
    fake.setDelays({ chunkDelayMs: 20 });
    const answer = sendMessage(t, user, conversation.id, { content: 'Tell me everything' });
    await fake.waitFor((requests) => requests.length > 0);
    await sleep(100);
    expect((await t.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}`, headers: bearer(user.accessToken) })).statusCode).toBe(204);
    const gone = await answer;
    expect(gone.statusCode, gone.body).toBe(404);
    const [today] = await usageOf(user);
    expect(today?.messages).toBe(1);
    // Not streamed, the call was cut before the model said what it produced: its prompt counts.
    expect(today?.prompt_tokens).toBeGreaterThan(0);
  });
});
