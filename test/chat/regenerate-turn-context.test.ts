// A message's `context` (§6, "applies to that turn only") is what a page or an app knows about the
// moment the user asked: the order on screen, the plan they are on. Regenerate answers that same
// message again, so it must answer with that same context: it used to be answered without it,
// and the second answer knew nothing of the order the first one was about. The messages after it
// still never see it, and a regenerate in a conversation whose last message had none sends none.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { bearer, type RegisteredUser } from '../helpers/factories.js';
import { chattingUser, fakeLlmEnv, sendMessage } from '../helpers/chat.js';

let fake: FakeLlm;
let t: TestApp;
beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url, { LLM_MAX_RETRIES: '0' }));
});
afterEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const promptText = () => fake.requests.at(-1)!.messages.map((m: { content: string }) => m.content).join('\n');

async function say(user: RegisteredUser, conversationId: string, content: string, context?: string) {
  const response = await sendMessage(t, user, conversationId, context === undefined ? { content } : { content, context });
  expect(response.statusCode, response.body).toBe(201);
}

async function regenerate(user: RegisteredUser, conversationId: string) {
  const response = await t.request({ method: 'POST', url: `/v1/conversations/${conversationId}/regenerate`, headers: bearer(user.accessToken) });
  expect(response.statusCode, response.body).toBe(201);
  return json(response);
}

describe("regenerate and a message's own context", () => {
  it('answers the message again with the context it was sent with', async () => {
    const { user, conversation } = await chattingUser(t);
    await say(user, conversation.id, 'Where is my parcel?', 'Order 4411 ships on Friday via COURIER-ZETA.');
    expect(promptText()).toContain('COURIER-ZETA');

    await regenerate(user, conversation.id);
    expect(fake.requests).toHaveLength(2);
    expect(promptText()).toContain('COURIER-ZETA');
    expect(promptText()).toContain('Where is my parcel?');
  });

  it("uses the last message's context only: an earlier message's stays with it", async () => {
    const { user, conversation } = await chattingUser(t);
    await say(user, conversation.id, 'Where is my parcel?', 'Order 4411 ships on Friday via COURIER-ZETA.');
    await say(user, conversation.id, 'And my refund?');
    await regenerate(user, conversation.id);
    expect(promptText()).toContain('And my refund?');
    expect(promptText()).not.toContain('COURIER-ZETA');

    await say(user, conversation.id, 'Which plan am I on?', 'Plan: GOLD-ANNUAL.');
    await say(user, conversation.id, 'Thanks');
    expect(promptText()).not.toContain('GOLD-ANNUAL');
  });
});
