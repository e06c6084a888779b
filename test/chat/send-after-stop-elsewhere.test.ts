// Stop a streaming reply, then send the next message at once, with two instances behind a load
// balancer on one database (§6, §11): the stop (or the client leaving) reaches one instance, the
// next message another. That instance found the conversation still held by the stopped reply,
// which the instance running it had not stored yet, and answered 409 conversation_busy, "wait
// for it or stop it", to a user who had just stopped it. Now a hold being ended is marked so in
// the database, and a turn that finds one waits (a few seconds at most) for the stopped reply to
// be stored, then starts after it. A reply nobody stopped still answers 409 at once.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, type RegisteredUser } from '../helpers/factories.js';
import { chattingUser, fakeLlmEnv, listen, sendMessage } from '../helpers/chat.js';
import { openMessageStream, until } from '../helpers/socket-stream.js';

let fake: FakeLlm;
let one: TestApp;
let two: TestApp;
let baseOne: string;

beforeAll(async () => {
  fake = await startFakeLlm();
  const redis = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;
  const shared = { JWT_SECRET: randomBytes(48).toString('base64url'), ...(redis ? { REDIS_URL: redis } : {}) };
  one = await createTestApp(fakeLlmEnv(fake.url, shared));
  two = await createTestApp(fakeLlmEnv(fake.url, shared), { sharedWith: one });
  baseOne = await listen(one);
});
afterEach(() => fake.reset());
afterAll(async () => {
  await two?.close();
  await one?.close();
  await fake?.close();
});

const longReply = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');

/** A streamed reply on instance one, over a real socket, once its first words arrived. */
async function streamingOnOne(user: RegisteredUser, conversationId: string, content: string) {
  fake.setReply(() => longReply);
  fake.setDelays({ chunkDelayMs: 100 });
  const stream = openMessageStream(baseOne, user, conversationId, content);
  await until(() => stream.events.some((e) => e.event === 'message.delta'), 'the first words');
  // The next turn is answered at once.
  fake.setReply(undefined);
  fake.setDelays({ chunkDelayMs: 0 });
  return stream;
}

const stopOn = (t: TestApp, user: RegisteredUser, id: string) =>
  t.request({ method: 'POST', url: `/v1/conversations/${id}/stop`, headers: bearer(user.accessToken) });
const messagesOf = async (user: RegisteredUser, id: string) =>
  json(await one.request({ method: 'GET', url: `/v1/conversations/${id}/messages`, headers: bearer(user.accessToken) })).data as Array<{ role: string; status: string; content: string }>;

/** The next message, sent on instance two: answered after the stopped reply, which is kept once as interrupted. */
async function sendsAfterTheStoppedReply(user: RegisteredUser, conversationId: string) {
  const next = await sendMessage(two, user, conversationId, { content: 'never mind, hello' });
  expect(next.statusCode, next.body).toBe(201);
  expect(json(next).reply.content).toBe('You said: never mind, hello');
  const stored = await messagesOf(user, conversationId);
  expect(stored.map((m) => [m.role, m.status])).toEqual([
    ['user', 'complete'],
    ['assistant', 'interrupted'],
    ['user', 'complete'],
    ['assistant', 'complete'],
  ]);
  expect(longReply.startsWith(stored[1]!.content)).toBe(true);
  expect(stored[2]!.content).toBe('never mind, hello');
}

describe('a reply streaming on one instance, stopped, and the next message sent at once to another', () => {
  it('stopped through the other instance: the message there is answered after the stopped reply', async () => {
    const { user, conversation } = await chattingUser(one);
    const stream = await streamingOnOne(user, conversation.id, 'talk slowly');
    // Not stopped: still busy, on either instance, at once.
    const busy = await sendMessage(two, user, conversation.id, { content: 'me too' });
    expect(busy.statusCode).toBe(409);
    expect(json(busy).code).toBe('conversation_busy');

    expect(json(await stopOn(two, user, conversation.id))).toEqual({ stopped: true });
    await sendsAfterTheStoppedReply(user, conversation.id);
    await stream.done;
  });

  it('stopped through the other instance: a regenerate there replaces the stopped reply', async () => {
    const { user, conversation } = await chattingUser(one);
    const stream = await streamingOnOne(user, conversation.id, 'talk slowly');
    expect(json(await stopOn(two, user, conversation.id))).toEqual({ stopped: true });
    const again = await two.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/regenerate`, headers: bearer(user.accessToken) });
    expect(again.statusCode, again.body).toBe(201);
    expect(json(again).reply.content).toBe('You said: talk slowly');
    const stored = await messagesOf(user, conversation.id);
    expect(stored.map((m) => [m.role, m.status, m.content])).toEqual([
      ['user', 'complete', 'talk slowly'],
      ['assistant', 'complete', 'You said: talk slowly'],
    ]);
    await stream.done;
  });

  it('its client gone (the stream closed): the message on the other is answered after the stopped reply', async () => {
    const { user, conversation } = await chattingUser(one);
    const stream = await streamingOnOne(user, conversation.id, 'talk slowly');
    stream.close();
    // The instance running it heard the client leave: the model call is closed.
    await fake.waitFor((requests) => requests[0]?.closedAt != null, 5000);
    await sendsAfterTheStoppedReply(user, conversation.id);
  });
});
