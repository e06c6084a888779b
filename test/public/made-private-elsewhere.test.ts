// Two instances behind a load balancer: a visitor's reply runs on one, and the owner makes the
// chatbot private through the other (§7). The chatbot is closed to visitors at once, as it is when
// both requests reach one instance: the visitor's reply ends, kept as interrupted, and its model
// call is ended rather than answered to the end and paid for. The owner's own reply goes on.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, parseSse, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { startVisit, visitorSend } from '../helpers/public.js';

let fake: FakeLlm;
let one: TestApp;
let two: TestApp;
const shared = {
  JWT_SECRET: randomBytes(48).toString('base64url'),
  RATE_LIMIT_PUBLIC_IP: '10000/1m',
  RATE_LIMIT_PUBLIC_VISITOR: '10000/1m',
  ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL } : {}),
};

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

const deltas = (events: { event: string; data: any }[]) =>
  events.filter((event) => event.event === 'message.delta').map((event) => event.data.delta).join('');

/** Waits until the fake model is answering `content`; that request. */
async function answering(content: string) {
  await fake.waitFor((requests) => requests.some((request) => request.messages.at(-1)?.content === content));
  await new Promise((resolve) => setTimeout(resolve, 150));
  return fake.requests.find((seen) => seen.messages.at(-1)?.content === content)!;
}

it("ends a visitor's reply running on one instance when the chatbot is made private through the other", async () => {
  const owner = await registerUser(one);
  const bot = await createChatbot(one, owner, { name: 'Front desk', is_public: true });
  const visit = await startVisit(one, bot.slug);
  const own = await createConversation(one, owner, { chatbot_id: bot.id });
  fake.setReply(() => longReply);
  fake.setDelays({ chunkDelayMs: 60 });

  const visitorAnswer = visitorSend(one, visit.visitor_token, visit.conversation_id, { content: 'Tell me everything', stream: true });
  const ownerAnswer = sendMessage(one, owner, own.id, { content: 'Tell me all of it', stream: true });
  const visitorCall = await answering('Tell me everything');
  const ownerCall = await answering('Tell me all of it');

  const made = await two.request({ method: 'PATCH', url: `/v1/chatbots/${bot.id}`, headers: bearer(owner.accessToken), payload: { is_public: false } });
  expect(made.statusCode).toBe(200);

  const visitorEvents = parseSse((await visitorAnswer).body);
  const end = visitorEvents.find((event) => event.event === 'message.end')?.data.reply;
  expect(end?.status).toBe('interrupted');
  expect(deltas(visitorEvents).length).toBeLessThan(longReply.length);
  await fake.waitFor(() => visitorCall.closedAt !== null, 3000);
  expect(visitorCall.aborted).toBe(true);

  const ownerEvents = parseSse((await ownerAnswer).body);
  expect(ownerEvents.find((event) => event.event === 'message.end')?.data.reply.status).toBe('complete');
  expect(deltas(ownerEvents)).toBe(longReply);
  expect(ownerCall.aborted).toBe(false);
});
