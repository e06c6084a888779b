// A new user message longer than MAX_MESSAGE_CHARS on the AI SDK channel: refused with 422 naming
// where the text is in the request the transport sent (the last message's parts), since its body
// has no `content` field; nothing stored, the model not called. One character less is answered.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, fakeLlmEnv, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

const LIMIT = 500;

let llm: FakeLlm;
let t: TestApp;
let base: string;
let owner: RegisteredUser;
let key: string;

beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(llm.url, { MAX_MESSAGE_CHARS: String(LIMIT) }));
  base = await listen(t);
  owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Long messages' });
  key = (await createApiKey(t, owner, bot.id)).key;
});
afterEach(() => llm.reset());
afterAll(async () => {
  await t?.close();
  await llm?.close();
});

const chatId = () => `chat_${randomBytes(6).toString('hex')}`;
const textParts = (...texts: string[]) => texts.map((text) => ({ type: 'text', text }));
const history = [
  { id: 'u1', role: 'user', parts: textParts('Hello') },
  { id: 'a1', role: 'assistant', parts: textParts('Hi!') },
];

async function send(token: string, body: Record<string, unknown>) {
  const response = await fetch(`${base}/v1/ai-sdk/chat`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(token) }, body: JSON.stringify(body) });
  return { status: response.status, type: response.headers.get('content-type'), body: (await response.json().catch(() => null)) as any };
}

describe('a new user message over MAX_MESSAGE_CHARS', () => {
  it.each([
    ['one text part', textParts('x'.repeat(LIMIT + 1))],
    ['text parts that join past it', textParts('x'.repeat(LIMIT / 2), 'y'.repeat(LIMIT / 2))],
  ])('%s: 422 on the last message\'s parts, nothing stored, the model not called', async (_name, parts) => {
    for (const [token, extra] of [[owner.accessToken, {}], [key, { user: 'alice' }]] as const) {
      const before = { conversations: await t.count('conversations'), messages: await t.count('messages') };
      const answer = await send(token, { id: chatId(), messages: [...history, { id: 'u2', role: 'user', parts }], trigger: 'submit-message', ...extra });
      expect(answer.status).toBe(422);
      expect(answer.type).toMatch(/^application\/problem\+json/);
      expect(answer.body.code).toBe('validation_failed');
      expect(answer.body.errors).toEqual([{ path: 'body.messages.2.parts', message: `must be at most ${LIMIT} characters` }]);
      expect({ conversations: await t.count('conversations'), messages: await t.count('messages') }).toEqual(before);
      expect(llm.requests).toHaveLength(0);
    }
  });

  it('one character less is answered', async () => {
    const answer = await fetch(`${base}/v1/ai-sdk/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(owner.accessToken) },
      body: JSON.stringify({ id: chatId(), messages: [{ id: 'u1', role: 'user', parts: textParts('x'.repeat(LIMIT)) }], trigger: 'submit-message' }),
    });
    expect(answer.status).toBe(200);
    await answer.text();
    expect(llm.requests).toHaveLength(1);
  });
});
