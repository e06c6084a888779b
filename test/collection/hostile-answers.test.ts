// A visitor feeding a collecting bot. One chat message, well under the message size limit
// (MAX_MESSAGE_CHARS, 32,000), typed as the answer to an `email` (or `url`) field, made the
// validators' regular expressions do work growing with the square of its length on the event
// loop, after NFKC had tripled the text ("…" → "..."): every other tenant's requests, /health
// included, waited 1–4 s behind it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, listen, sendMessage } from '../helpers/chat.js';
import { registerUser } from '../helpers/factories.js';
import { timedHealth } from '../helpers/timed-health.js';

/** As test/exports/export-event-loop.test.ts: far above a free event loop, far below the freeze. */
const STALL_BOUND_MS = 500;

let t: TestApp;
let base: string;
beforeAll(async () => {
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '10000/1m' });
  base = await listen(t);
});
afterAll(async () => {
  await t?.close();
});

async function answerWhileHealthPolled(type: 'email' | 'url', answer: string) {
  const owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner, { collect: { fields: [{ key: 'contact', label: 'contact', type, required: true }] } });
  const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
  const hello = await sendMessage(t, owner, conversation.id, { content: 'hello' });
  expect(hello.statusCode, hello.body).toBe(201);
  let sending = true;
  const sent = sendMessage(t, owner, conversation.id, { content: answer }).finally(() => (sending = false));
  const waits: number[] = [];
  while (sending) waits.push(await timedHealth(base));
  const response = await sent;
  return { status: response.statusCode, missing: (json(response).collect ?? null) as unknown, waits };
}

describe('a hostile answer to a collecting bot', () => {
  it('a 10,001-character answer to an email field leaves /health answering', { timeout: 120_000 }, async () => {
    const { status, waits } = await answerWhileHealthPolled('email', `${'…'.repeat(10_000)}x`);
    expect(status).toBe(201);
    expect(Math.max(...waits), `/health waited ${waits.map(Math.round).join(', ')} ms`).toBeLessThan(STALL_BOUND_MS);
  });

  it('a 10,001-character answer to a url field leaves /health answering', { timeout: 120_000 }, async () => {
    const { status, waits } = await answerWhileHealthPolled('url', `${'…'.repeat(10_000)}x`);
    expect(status).toBe(201);
    expect(Math.max(...waits), `/health waited ${waits.map(Math.round).join(', ')} ms`).toBeLessThan(STALL_BOUND_MS);
  });

  it('a 20,000-letter answer to an email field leaves /health answering', { timeout: 120_000 }, async () => {
    const { status, waits } = await answerWhileHealthPolled('email', 'ⅷ'.repeat(10_000));
    expect(status).toBe(201);
    expect(Math.max(...waits), `/health waited ${waits.map(Math.round).join(', ')} ms`).toBeLessThan(STALL_BOUND_MS);
  });
});
