// §6.2: history is sent newest first until the token budget is spent. A reply the model never
// sees again (a failed one, or the one a regenerate replaces) spends none of that budget: after
// a long one the model still sees the conversation before it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { createConversation, fakeLlmEnv, sendMessage } from '../helpers/chat.js';

// Four short turns fit many times over; one long reply alone does not.
const BUDGET = 600;
const LONG_REPLY = 'word '.repeat(700);

let fake: FakeLlm;
let t: TestApp;

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(fake.url, { CONTEXT_TOKEN_BUDGET: String(BUDGET), LLM_MAX_RETRIES: '0' }));
});
afterEach(() => fake.reset());
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const conversationSent = () => fake.requests.at(-1)!.messages.filter((m) => m.role !== 'system');

async function shortTurns(user: Awaited<ReturnType<typeof registerUser>>, conversationId: string) {
  for (let turn = 1; turn <= 4; turn++) {
    const response = await sendMessage(t, user, conversationId, { content: `Turn ${turn}: my cat is called Miso` });
    expect(response.statusCode, response.body).toBe(201);
  }
}

describe('history sent past a long reply the model does not see again', () => {
  it('a failed reply with much text does not push the turns before it out of the next prompt', async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    await shortTurns(user, conversation.id);

    fake.setReply(() => LONG_REPLY);
    fake.fail({ kind: 'stream-error', afterChunks: 650 });
    const failed = await sendMessage(t, user, conversation.id, { content: 'Write me a long poem', stream: true });
    expect(failed.body).toContain('event: error');
    fake.reset();

    const next = await sendMessage(t, user, conversation.id, { content: 'What is my cat called?' });
    expect(next.statusCode, next.body).toBe(201);
    const sent = conversationSent();
    for (const message of sent) expect(message.content).not.toContain('word word');
    expect(sent.map((m) => m.content)).toEqual([
      'Turn 1: my cat is called Miso',
      'You said: Turn 1: my cat is called Miso',
      'Turn 2: my cat is called Miso',
      'You said: Turn 2: my cat is called Miso',
      'Turn 3: my cat is called Miso',
      'You said: Turn 3: my cat is called Miso',
      'Turn 4: my cat is called Miso',
      'You said: Turn 4: my cat is called Miso',
      'Write me a long poem',
      'What is my cat called?',
    ]);
  });

  it('a regenerate after a long reply sends the history the first answer had', async () => {
    const user = await registerUser(t);
    const conversation = await createConversation(t, user);
    await shortTurns(user, conversation.id);

    fake.setReply(() => LONG_REPLY);
    const long = await sendMessage(t, user, conversation.id, { content: 'Write me a long poem' });
    expect(long.statusCode, long.body).toBe(201);
    const first = conversationSent();
    expect(first).toHaveLength(9);

    fake.setReply(() => 'A short poem.');
    const again = await t.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/regenerate`, headers: bearer(user.accessToken), payload: {} });
    expect(again.statusCode, again.body).toBe(201);
    expect(conversationSent()).toEqual(first);
  });
});
