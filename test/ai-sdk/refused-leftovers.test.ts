// POST /v1/ai-sdk/chat with a fresh chat id each time, refused: the message is over MAX_MESSAGE_CHARS (422), or the caller is over
// its message rate limit (429), or its chatbot's monthly budget is spent (429). Each refusal leaves
// an empty conversation behind (listed in GET /v1/conversations) when the conversation was opened
// before the checks: a caller over every limit created rows as fast as it could send requests. Bad
// input changes nothing (SPEC §12).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../helpers/api-keys.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';

let t: TestApp;
let base: string;
let key: string;
let owner: Awaited<ReturnType<typeof registerUser>>;
beforeAll(async () => {
  // Two messages a minute per account and per key end user.
  t = await createTestApp({ RATE_LIMIT_MESSAGES_USER: '2/1m', RATE_LIMIT_API_KEY_USER: '2/1m' });
  base = await listen(t);
  owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Leftovers' });
  key = (await createApiKey(t, owner.accessToken, bot.id)).key;
});
afterAll(async () => {
  await t?.close();
});

async function send(token: string, chatId: string, text: string, extra: Record<string, unknown> = {}) {
  const response = await fetch(`${base}/v1/ai-sdk/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(token) },
    body: JSON.stringify({ id: chatId, messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text }] }], trigger: 'submit-message', ...extra }),
  });
  const body = await response.text();
  return { status: response.status, body };
}

describe('a refused /v1/ai-sdk/chat request for a new chat id', () => {
  it('leaves no conversation behind: too long (422), over the rate limit (429)', { timeout: 60_000 }, async () => {
    const rows: Array<{ case: string; status: number; added: number }> = [];
    const measure = async (name: string, call: () => Promise<{ status: number }>) => {
      const before = await t.count('conversations');
      const { status } = await call();
      rows.push({ case: name, status, added: (await t.count('conversations')) - before });
    };
    await measure('account, 32,001 characters', () => send(owner.accessToken, 'too-long-1', 'a '.repeat(16_000) + 'b'));
    await measure('key end user, 32,001 characters', () => send(key, 'too-long-2', 'a '.repeat(16_000) + 'b', { user: 'end-user-1' }));
    await measure('regenerate in a chat never used', () => send(owner.accessToken, 'never-used', 'Hello', { trigger: 'regenerate-message', messageId: 'm1' }));
    // Spend the account's two messages, then ten more new chats while over the limit.
    await send(owner.accessToken, 'ok-1', 'Hello');
    await send(owner.accessToken, 'ok-2', 'Hello');
    for (let i = 0; i < 10; i++) await measure(`account over its limit #${i + 1}`, () => send(owner.accessToken, `limited-${i}`, 'Hello'));
    const listed = await t.request({ method: 'GET', url: '/v1/conversations?limit=100', headers: bearer(owner.accessToken) });
    const empty = (listed.json().data as Array<{ message_count: number }>).filter((c) => c.message_count === 0).length;
    const report = JSON.stringify({ rows, emptyConversationsListed: empty });
    expect(rows.map((row) => row.status), report).toEqual([422, 422, 404, ...Array(10).fill(429)]);
    expect(empty, report).toBe(0);
    expect(rows.filter((row) => row.added > 0), report).toEqual([]);
  });
});
