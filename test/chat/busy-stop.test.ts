// One reply at a time per conversation (§6): a second message, a clear or a regenerate while a
// reply is being generated → 409 conversation_busy; `stop` ends a running reply, keeping what was
// produced as `interrupted` (§6, §12).
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { chattingUser, fakeLlmEnv, listen, sendMessage } from '../helpers/chat.js';
import { openMessageStream, until } from '../helpers/socket-stream.js';

let fake: FakeLlm;
let t: TestApp;
let base: string;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url));
  base = await listen(t);
});
afterEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const longReply = Array.from({ length: 40 }, (_, i) => `token${i}`).join(' ');

const messagesOf = async (user: RegisteredUser, id: string) =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${id}/messages`, headers: bearer(user.accessToken) })).data as any[];
const getConversation = async (user: RegisteredUser, id: string) =>
  json(await t.request({ method: 'GET', url: `/v1/conversations/${id}`, headers: bearer(user.accessToken) }));
const stop = (user: RegisteredUser, id: string) =>
  t.request({ method: 'POST', url: `/v1/conversations/${id}/stop`, headers: bearer(user.accessToken) });
const regenerate = (user: RegisteredUser, id: string) =>
  t.request({ method: 'POST', url: `/v1/conversations/${id}/regenerate`, headers: bearer(user.accessToken) });
const clearHistory = (user: RegisteredUser, id: string) =>
  t.request({ method: 'DELETE', url: `/v1/conversations/${id}/messages`, headers: bearer(user.accessToken) });

/** Starts a slow reply and resolves once the model has been called; `answer` settles later. */
async function slowTurn(user: RegisteredUser, conversationId: string, content: string) {
  fake.setDelays({ firstTokenDelayMs: 800 });
  const before = fake.requests.length;
  const answer = Promise.resolve(sendMessage(t, user, conversationId, { content }));
  await fake.waitFor((requests) => requests.length > before);
  return { answer };
}

describe('a conversation generating a reply is busy', () => {
  it('refuses a second message with 409 conversation_busy and stores nothing for it', async () => {
    const { user, conversation } = await chattingUser(t);
    const { answer: first } = await slowTurn(user, conversation.id, 'First question');

    const second = await sendMessage(t, user, conversation.id, { content: 'Second question' });
    expect(second.statusCode).toBe(409);
    expect(second.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json(second).code).toBe('conversation_busy');

    const done = await first;
    expect(done.statusCode, done.body).toBe(201);
    expect(json(done).reply.status).toBe('complete');
    const stored = await messagesOf(user, conversation.id);
    expect(stored.map((m) => m.content)).toEqual(['First question', 'You said: First question']);
    expect((await getConversation(user, conversation.id)).message_count).toBe(2);
    expect(fake.requests).toHaveLength(1);

    // Once the reply is stored, the conversation takes messages again.
    fake.reset();
    const third = await sendMessage(t, user, conversation.id, { content: 'Second question' });
    expect(third.statusCode, third.body).toBe(201);
    expect((await messagesOf(user, conversation.id)).map((m) => m.content)).toEqual([
      'First question',
      'You said: First question',
      'Second question',
      'You said: Second question',
    ]);
  });

  it('refuses to clear the history while a reply is generated (409), and clears it afterwards', async () => {
    const { user, conversation } = await chattingUser(t);
    const { answer: first } = await slowTurn(user, conversation.id, 'Keep this');

    const cleared = await clearHistory(user, conversation.id);
    expect(cleared.statusCode).toBe(409);
    expect(json(cleared).code).toBe('conversation_busy');

    expect((await first).statusCode).toBe(201);
    expect(await messagesOf(user, conversation.id)).toHaveLength(2);
    expect((await clearHistory(user, conversation.id)).statusCode).toBe(204);
    expect(await messagesOf(user, conversation.id)).toHaveLength(0);
  });

  it('refuses to regenerate while a reply is generated (409)', async () => {
    const { user, conversation } = await chattingUser(t);
    expect((await sendMessage(t, user, conversation.id, { content: 'Warm up' })).statusCode).toBe(201);
    const { answer: second } = await slowTurn(user, conversation.id, 'Now the real one');

    const again = await regenerate(user, conversation.id);
    expect(again.statusCode).toBe(409);
    expect(json(again).code).toBe('conversation_busy');

    expect((await second).statusCode).toBe(201);
    fake.reset();
    const later = await regenerate(user, conversation.id);
    expect(later.statusCode, later.body).toBe(201);
    const stored = await messagesOf(user, conversation.id);
    expect(stored).toHaveLength(4);
    expect(stored.at(-1)!.id).toBe(json(later).reply.id);
  });
});

describe('POST /v1/conversations/{id}/stop', () => {
  it('ends a streaming reply: {stopped:true}, message.end with an interrupted reply, the model call closed', async () => {
    fake.setReply(() => longReply);
    fake.setDelays({ chunkDelayMs: 150 });
    const { user, conversation } = await chattingUser(t);
    const stream = openMessageStream(base, user, conversation.id, 'Go on for a while');
    await until(() => stream.events.some((e) => e.event === 'message.delta'), 'the first delta');

    const stopped = await stop(user, conversation.id);
    expect(stopped.statusCode).toBe(200);
    expect(json(stopped)).toEqual({ stopped: true });

    await Promise.race([stream.done, sleep(3000)]);
    const end = stream.events.at(-1)!;
    expect(end.event).toBe('message.end');
    const reply = end.data.reply;
    expect(reply.status).toBe('interrupted');
    expect(reply.content.length).toBeGreaterThan(0);
    expect(longReply.startsWith(reply.content)).toBe(true);
    expect(reply.content.length).toBeLessThan(longReply.length);
    const deltas = stream.events.filter((e) => e.event === 'message.delta').map((e) => e.data.delta);
    expect(deltas.join('')).toBe(reply.content);

    await fake.waitFor((requests) => requests.length === 1 && requests[0]!.closedAt !== null, 2000);
    expect(fake.requests[0]!.aborted).toBe(true);
    expect((await messagesOf(user, conversation.id)).at(-1)).toEqual(reply);

    // Stopped means free: the next message goes through.
    fake.reset();
    expect((await sendMessage(t, user, conversation.id, { content: 'Thanks' })).statusCode).toBe(201);
  });

  it('ends a non-streaming reply too: the answer carries the interrupted reply', async () => {
    const { user, conversation } = await chattingUser(t);
    const { answer } = await slowTurn(user, conversation.id, 'Take your time');
    expect(json(await stop(user, conversation.id))).toEqual({ stopped: true });
    const done = await answer;
    expect(done.statusCode, done.body).toBe(201);
    expect(json(done).reply.status).toBe('interrupted');
    expect((await messagesOf(user, conversation.id)).at(-1)!.status).toBe('interrupted');
    await fake.waitFor((requests) => requests[0]?.closedAt != null, 2000);
    expect(fake.requests[0]!.aborted).toBe(true);
  });

  it('answers {stopped:false} when nothing is being generated', async () => {
    const { user, conversation } = await chattingUser(t);
    const idle = await stop(user, conversation.id);
    expect(idle.statusCode).toBe(200);
    expect(json(idle)).toEqual({ stopped: false });

    expect((await sendMessage(t, user, conversation.id, { content: 'Quick one' })).statusCode).toBe(201);
    expect(json(await stop(user, conversation.id))).toEqual({ stopped: false });
    expect((await messagesOf(user, conversation.id)).at(-1)!.status).toBe('complete');
  });

  it("answers 404 for another user's conversation and leaves its reply running", async () => {
    const { user: owner, conversation } = await chattingUser(t);
    const intruder = await registerUser(t);
    const { answer } = await slowTurn(owner, conversation.id, 'Mine alone');

    const foreign = await stop(intruder, conversation.id);
    expect(foreign.statusCode).toBe(404);
    expect(json(foreign).code).toBe('not_found');

    const done = await answer;
    expect(done.statusCode).toBe(201);
    expect(json(done).reply).toMatchObject({ status: 'complete', content: 'You said: Mine alone' });
    expect(fake.requests[0]!.aborted).toBe(false);
  });

  it('answers 404 for a conversation that does not exist', async () => {
    const user = await registerUser(t);
    const missing = await stop(user, '0190a4c2-0000-7000-8000-000000000000');
    expect(missing.statusCode).toBe(404);
    expect((await stop(user, 'not-a-uuid')).statusCode).toBe(404);
  });

  it('stops a reply that another instance on the same database is generating (§6: "on whichever instance runs it")', async () => {
    // Two instances behind a load balancer; they share Redis too when the test run has one (§11).
    const shared = { JWT_SECRET: randomBytes(48).toString('base64url'), ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL } : {}) };
    const one = await createTestApp(fakeLlmEnv(fake.url, shared));
    const two = await createTestApp(fakeLlmEnv(fake.url, shared), { sharedWith: one });
    try {
      const { user, conversation } = await chattingUser(one);
      fake.setDelays({ firstTokenDelayMs: 1500 });
      const answer = Promise.resolve(sendMessage(one, user, conversation.id, { content: 'Running on one' }));
      await fake.waitFor((requests) => requests.length === 1);

      const stopped = await two.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/stop`, headers: bearer(user.accessToken) });
      expect(stopped.statusCode).toBe(200);
      expect.soft(json(stopped)).toEqual({ stopped: true });
      const done = await answer;
      expect(done.statusCode, done.body).toBe(201);
      expect(json(done).reply.status).toBe('interrupted');
      await fake.waitFor((requests) => requests[0]?.closedAt != null, 2000);
      expect(fake.requests[0]!.aborted).toBe(true);
    } finally {
      await two.close();
      await one.close();
    }
  });
});
