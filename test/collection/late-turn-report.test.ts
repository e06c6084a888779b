// A turn whose hold lapsed while the model answered ends after a newer turn on the same
// conversation collected something: its own data is then not stored (late-turn-data.test.ts).
// What its stream's `collect.update` event tells the client is what the conversation holds once
// the turn has ended — never the values that turn computed and did not store, nor a completion
// that was not stored — and no `conversation.completed` event is queued for such a completion.
// On PostgreSQL the newer turn's finish may also still hold the conversation's row as the late
// one's runs: the late finish then waits for it, and reads what it stored.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { startFakeWebhooks, type FakeWebhooks } from '../fake-webhooks/fake-webhooks.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, fakeLlmEnv, parseSse, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { whileRowsHeld } from '../helpers/held-lock.js';
import { setWebhook, WEBHOOK_TEST_ENV } from '../webhooks/events.js';
import { collected, NAME_AND_EMAIL, nameAndEmailSaid, say, type CollectingConversation } from './stage.js';

let fake: FakeLlm;
let receiver: FakeWebhooks;
let t: TestApp;

beforeAll(async () => {
  fake = await startFakeLlm();
  receiver = await startFakeWebhooks();
  t = await createTestApp({ ...fakeLlmEnv(fake.url), ...WEBHOOK_TEST_ENV });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await receiver?.close();
  await fake?.close();
});

/** An owner's conversation with a collecting chatbot whose webhook is set. */
async function leadConversation(): Promise<CollectingConversation & { owner: RegisteredUser; chatbotId: string }> {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { name: 'Lead bot', collect: NAME_AND_EMAIL });
  await setWebhook(t, owner, chatbot.id, receiver.endpoint(`leads-${chatbot.id}`).url);
  const id = (await createConversation(t, owner, { chatbot_id: chatbot.id })).id as string;
  return { t, owner, id, chatbotId: chatbot.id as string };
}

/**
 * Sends `late` streamed, lets its hold lapse while the model is about to answer, has `newer` sent
 * and answered meanwhile, then lets the late turn end: its `collect.update` event (null for none).
 */
async function lateTurn(conversation: CollectingConversation, late: string, newer: string) {
  const { owner, id } = conversation;
  fake.setDelays({ firstTokenDelayMs: 3_000 });
  const pending = sendMessage(t, owner, id, { content: late, stream: true });
  await fake.waitFor((requests) => requests.some((request) => !request.structured && request.messages.some((message) => message.content.includes(late))), 20_000);
  fake.setDelays({ firstTokenDelayMs: 0 });
  await t.database.sql.query("UPDATE conversations SET busy_until = now() - interval '1 second' WHERE id = $1", [id]);
  const answered = await sendMessage(t, owner, id, { content: newer });
  expect(answered.statusCode, answered.body).toBe(201);
  const response = await pending;
  expect(response.statusCode, response.body).toBe(200);
  const events = parseSse(response.body);
  expect(events.map((event) => event.event)).toContain('message.end');
  return events.find((event) => event.event === 'collect.update')?.data ?? null;
}

async function deliveries(conversation: { owner: RegisteredUser; chatbotId: string }) {
  const response = await t.request({ method: 'GET', url: `/v1/chatbots/${conversation.chatbotId}/webhook-deliveries`, headers: bearer(conversation.owner.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data as Array<{ conversation_id: string; status: string }>;
}

describe('the collect.update event of a turn that ended after a newer one collected', () => {
  it('tells what the conversation holds, not the correction that was not stored', { timeout: 60_000 }, async () => {
    fake.setExtraction(nameAndEmailSaid);
    const conversation = await leadConversation();
    await say(conversation, 'Hello, my name is Dana');

    const update = await lateTurn(conversation, 'Sorry, my name is Dan', 'Write to dana@example.org');
    const stored = await collected(conversation);
    expect(stored).toEqual({ data: { name: 'Dana', email: 'dana@example.org' }, missing: [], completed: true });
    expect(update).toEqual(stored);
    // The newer turn's completion is announced once, by the newer turn.
    expect((await deliveries(conversation)).length).toBe(1);
  });

  it('does not announce a completion that was not stored, to the client or to the webhook', { timeout: 60_000 }, async () => {
    fake.setExtraction(nameAndEmailSaid);
    const conversation = await leadConversation();
    await say(conversation, 'Hello');

    const update = await lateTurn(conversation, 'My name is Dan, write to dan@example.org', 'Actually, my name is Dana');
    const stored = await collected(conversation);
    expect(stored).toEqual({ data: { name: 'Dana' }, missing: ['email'], completed: false });
    expect(update).toEqual(stored);
    expect(await deliveries(conversation)).toEqual([]);
  });
});

describe.runIf(process.env.TEST_DATABASE_URL)('a turn whose finish waits for a newer turn\'s finish holding the conversation', () => {
  it('tells what the newer turn stored, and queues no event for its own completion', { timeout: 60_000 }, async () => {
    fake.setExtraction(nameAndEmailSaid);
    const conversation = await leadConversation();
    await say(conversation, 'Hello, my name is Dana');

    fake.setDelays({ firstTokenDelayMs: 1_500 });
    const pending = sendMessage(t, conversation.owner, conversation.id, { content: 'Write to dana@example.org', stream: true });
    await fake.waitFor((requests) => requests.some((request) => !request.structured && request.messages.some((message) => message.content.includes('dana@example.org'))), 20_000);
    // The newer turn's finish: it stored other data and completed the conversation, not yet committed.
    const newer = JSON.stringify({ name: 'Dana', email: 'sales@example.org' });
    const response = await whileRowsHeld(t, process.env.TEST_DATABASE_URL!, {
      hold: ["UPDATE conversations SET data = $2::jsonb, status = 'completed' WHERE id = $1", [conversation.id, newer]],
      waiting: () => pending,
      then: ['SELECT 1', []],
    });
    fake.setDelays({ firstTokenDelayMs: 0 });
    expect(response.statusCode, response.body).toBe(200);
    const update = parseSse(response.body).find((event) => event.event === 'collect.update')?.data ?? null;
    const stored = await collected(conversation);
    expect(stored).toEqual({ data: { name: 'Dana', email: 'sales@example.org' }, missing: [], completed: true });
    expect(update).toEqual(stored);
    expect(await deliveries(conversation)).toEqual([]);
  });
});
