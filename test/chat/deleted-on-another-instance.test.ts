// Two instances behind a load balancer: a reply runs on one, and its conversation or its chatbot
// is deleted through the other. Nobody can read that reply any more, so its model call is ended
// (as a stop from another instance ends it, §6) rather than answered to the end and paid for; the
// turn ends as a deletion on its own instance ends it (an `error` event, or 404).
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { createChatbot, createConversation, fakeLlmEnv, parseSse, sendMessage } from '../helpers/chat.js';

let fake: FakeLlm;
let one: TestApp;
let two: TestApp;
const shared = { JWT_SECRET: randomBytes(48).toString('base64url'), ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL } : {}) };

beforeAll(async () => {
  fake = await startFakeLlm();
  one = await createTestApp(fakeLlmEnv(fake.url, shared));
  two = await createTestApp(fakeLlmEnv(fake.url, shared), { sharedWith: one });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await two?.close();
  await one?.close();
  await fake?.close();
});

// 100 chunks 60 ms apart: six seconds of reply, far beyond the other instance's stop poll.
const longReply = Array.from({ length: 100 }, (_, i) => `token${i}`).join(' ');

/** A streamed turn on instance one, running once the model answers; its events when it ends. */
async function replyRunningOnOne(user: RegisteredUser, conversationId: string, content: string) {
  fake.setReply(() => longReply);
  fake.setDelays({ chunkDelayMs: 60 });
  const before = fake.requests.length;
  const answer = sendMessage(one, user, conversationId, { content, stream: true });
  await fake.waitFor((requests) => requests.some((request, i) => i >= before && request.messages.at(-1)?.content === content));
  await new Promise((resolve) => setTimeout(resolve, 150));
  const request = fake.requests.find((seen, i) => i >= before && seen.messages.at(-1)?.content === content)!;
  return { request, events: answer.then((response) => parseSse(response.body)) };
}

const deltas = (events: { event: string; data: any }[]) =>
  events.filter((event) => event.event === 'message.delta').map((event) => event.data.delta).join('');

describe('a reply whose conversation is deleted through another instance', () => {
  it('ends the model call; the stream ends with error not_found before the whole reply', async () => {
    const user = await registerUser(one);
    const conversation = await createConversation(one, user);
    const { request, events } = await replyRunningOnOne(user, conversation.id, 'Tell me everything');

    const deleted = await two.request({ method: 'DELETE', url: `/v1/conversations/${conversation.id}`, headers: bearer(user.accessToken) });
    expect(deleted.statusCode).toBe(204);

    const ended = await events;
    expect(ended.at(-1)).toMatchObject({ event: 'error', data: { code: 'not_found' } });
    expect(deltas(ended).length).toBeLessThan(longReply.length);
    await fake.waitFor(() => request.closedAt !== null, 3000);
    expect(request.aborted).toBe(true);
  });

  it('ends the replies of a chatbot deleted through the other instance', async () => {
    const user = await registerUser(one);
    const bot = await createChatbot(one, user);
    const conversation = await createConversation(one, user, { chatbot_id: bot.id });
    const { request, events } = await replyRunningOnOne(user, conversation.id, 'Tell me all of it');

    const deleted = await two.request({ method: 'DELETE', url: `/v1/chatbots/${bot.id}`, headers: bearer(user.accessToken) });
    expect(deleted.statusCode).toBe(204);

    const ended = await events;
    expect(ended.at(-1)?.event).toBe('error');
    expect(deltas(ended).length).toBeLessThan(longReply.length);
    await fake.waitFor(() => request.closedAt !== null, 3000);
    expect(request.aborted).toBe(true);
  });

  it("leaves another conversation's reply running, and a new one in its place answers", async () => {
    const user = await registerUser(one);
    const kept = await createConversation(one, user);
    const gone = await createConversation(one, user);
    const { request, events } = await replyRunningOnOne(user, kept.id, 'Keep going');

    const deleted = await two.request({ method: 'DELETE', url: `/v1/conversations/${gone.id}`, headers: bearer(user.accessToken) });
    expect(deleted.statusCode).toBe(204);

    const ended = await events;
    expect(ended.at(-1)?.event).toBe('message.end');
    expect(deltas(ended)).toBe(longReply);
    expect(request.aborted).toBe(false);

    fake.setDelays({});
    const again = await sendMessage(one, user, kept.id, { content: 'And now?' });
    expect(again.statusCode, again.body).toBe(201);
    expect(json(again).reply.status).toBe('complete');
  });

  it('leaves its stop behind only as long as any instance could need it', async () => {
    const t = await createTestApp(fakeLlmEnv(fake.url, { ...shared, CUT_TURNS_SWEEP_MS: '100' }), { sharedWith: one });
    try {
      const user = await registerUser(one);
      const conversation = await createConversation(one, user);
      const { request, events } = await replyRunningOnOne(user, conversation.id, 'Soon forgotten');
      expect((await t.request({ method: 'DELETE', url: `/v1/conversations/${conversation.id}`, headers: bearer(user.accessToken) })).statusCode).toBe(204);
      await events;
      await fake.waitFor(() => request.closedAt !== null, 3000);
      const stops = async () => (await t.database.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM reply_stops WHERE reply_id = $1', [replyIdOf(await events)])).at(0)?.n;
      expect(await stops()).toBe(1);
      // Two minutes on: the sweep forgets it.
      await t.database.sql.query(`UPDATE reply_stops SET at = now() - interval '121 seconds'`, []);
      await vi.waitFor(async () => expect(await stops()).toBe(0), { timeout: 3000, interval: 100 });
    } finally {
      await t.close();
    }
  });
});

const replyIdOf = (events: { event: string; data: any }[]) => events.find((event) => event.event === 'message.start')!.data.reply_id as string;
