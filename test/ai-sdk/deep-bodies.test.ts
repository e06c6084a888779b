// POST /v1/ai-sdk/chat with an Idempotency-Key and an unknown body field holding deeply nested
// arrays (100 KB of `[`s and `]`s, far under BODY_LIMIT). Unknown fields are accepted, as the
// protocol wants (§12), and JSON.parse takes any depth; the Idempotency-Key fingerprint walked the
// body by recursion and overflowed the stack: 500 internal_error, with the conversation the chat
// id names created all the same. Any caller could do it: an account, a key's end user, a visitor.
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
  t = await createTestApp({});
  base = await listen(t);
  owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Deep' });
  key = (await createApiKey(t, owner.accessToken, bot.id)).key;
});
afterAll(async () => {
  await t?.close();
});

const DEPTH = 50_000;
const nested = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;

async function send(token: string, chatId: string, extra: string) {
  const body = `{"id":"${chatId}","messages":[{"id":"m1","role":"user","parts":[{"type":"text","text":"Hello"}]}]${extra},"app_state":${nested}}`;
  const response = await fetch(`${base}/v1/ai-sdk/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `idem-${chatId}`, ...bearer(token) },
    body,
  });
  return { status: response.status, replayed: response.headers.get('idempotent-replayed'), text: await response.text() };
}

describe('a deeply nested unknown field with an Idempotency-Key on /v1/ai-sdk/chat', () => {
  it('is answered, and the same request again is replayed from its key', async () => {
    for (const [who, token, extra] of [
      ['account', owner.accessToken, ''],
      ['API key end user', key, ',"user":"end-user-1"'],
    ] as const) {
      const chatId = `deep-${who.replaceAll(' ', '-')}`;
      const before = await t.count('conversations');
      const answer = await send(token, chatId, extra);
      expect(answer.status, `${who}: ${answer.text.slice(0, 200)}`).toBe(200);
      expect(answer.text, who).toContain('"type":"finish"');
      expect(await t.count('conversations'), who).toBe(before + 1);
      const again = await send(token, chatId, extra);
      expect(again.status, who).toBe(200);
      expect(again.replayed, who).toBe('true');
      expect(await t.count('conversations'), who).toBe(before + 1);
    }
  });
});
