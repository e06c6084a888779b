// A collecting chatbot (§9) through the AI SDK channel (§8): what a turn collected reaches a
// `useChat` front end as a `data-collect` part that both real clients (ai 6 and the strict ai
// 5.0.x) accept and keep in the assistant message.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { client, CLIENTS, turn, userMessage } from './clients.js';

let t: TestApp;
let base: string;
let owner: RegisteredUser;
let chatbotId: string;

beforeAll(async () => {
  t = await createTestApp({ LLM_PROVIDER: 'builtin', RATE_LIMIT_MESSAGES_USER: '1000/1m' });
  base = await listen(t);
  owner = await registerUser(t);
  const bot = await createChatbot(t, owner, {
    name: 'Sign-up',
    greeting: 'Welcome!',
    collect: { fields: [{ key: 'email', label: 'email address', type: 'email', required: true }], completion_message: 'You are signed up.' },
  });
  chatbotId = bot.id;
});
afterAll(async () => {
  await t?.close();
});

describe('collecting over the AI SDK chat', () => {
  it.each(CLIENTS)('%s: the turn that fills a field carries a data-collect part; the one that only asks does not', async (name) => {
    const c = client(name, base, { headers: bearer(owner.accessToken), body: { chatbot_id: chatbotId } });
    const chat = `chat_${randomBytes(6).toString('hex')}`;
    const first = await turn(c, chat, [userMessage('hello')]);
    expect(first.text).toContain('email address');
    expect(first.chunks.some((chunk) => chunk.type === 'data-collect')).toBe(false);

    const second = await turn(c, chat, [userMessage('hello'), userMessage('me@example.org')]);
    expect(second.text).toContain('You are signed up.');
    const part = second.message.parts.find((candidate) => candidate.type === 'data-collect') as { data: unknown } | undefined;
    expect(part?.data).toEqual({ data: { email: 'me@example.org' }, missing: [], completed: true });
  });
});
