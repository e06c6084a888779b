// One conversation's export is written whole, without taking one of the account's export
// places, when its messages' stored text is within a batch's budget (4 MiB). That text was
// weighed as stored; written as JSON, a control character is six bytes (`\u0001`), so a
// conversation of 4.16 MB of them exported as a 24 MB document. Forty clients that asked for it
// and did not read grew the server by 1.25 GB in ten seconds, still growing: a few hundred
// end the process. A document past the budget as written now counts as a streamed one does.
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EXPORTS_PER_ACCOUNT } from '../../src/features/exports/export-slots.js';
import { EXPORT_BATCH_BYTES } from '../../src/features/exports/export-stream.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';
import { untilStatus } from '../helpers/until-status.js';

const MESSAGES = 130;
const CHARS = 32_000;

let t: TestApp;
let base: string;
let owner: RegisteredUser;
let escaped: string;
let plain: string;

beforeAll(async () => {
  t = await createTestApp();
  base = await listen(t);
  owner = await registerUser(t);
  const chatbot = await createChatbot(t, owner);
  const seed = async (text: string) => {
    const conversation = await createConversation(t, owner, { chatbot_id: chatbot.id });
    await t.database.sql.query(
      `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
       SELECT gen_random_uuid(), $1, $2, 'user', ${text}, 'complete', 1, now() + j * interval '1 millisecond'
         FROM generate_series(1, $3::int) AS j`,
      [conversation.id, owner.id, MESSAGES],
    );
    await t.database.sql.query('UPDATE conversations SET message_count = $2 WHERE id = $1', [conversation.id, MESSAGES]);
    return conversation.id as string;
  };
  // Control characters, as a chat message may hold them: within the budget as stored.
  escaped = await seed(`repeat(chr(1), ${CHARS})`);
  plain = await seed(`'a short message'`);
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** An export whose first bytes arrived and which is then not read. */
function heldExport(id: string): Promise<{ request: ClientRequest; response: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const request = get(`${base}/v1/conversations/${id}/export`, { headers: bearer(owner.accessToken) });
    request.on('error', reject);
    request.on('response', (response) => {
      response.once('data', () => {
        response.pause();
        resolve({ request, response });
      });
    });
  });
}

describe('a conversation whose export is long only once written as JSON', () => {
  it(`counts towards the ${MAX_EXPORTS_PER_ACCOUNT} exports an account reads at once, and is exported whole`, { timeout: 60_000 }, async () => {
    expect(MESSAGES * CHARS).toBeLessThan(EXPORT_BATCH_BYTES);
    const held = await Promise.all(Array.from({ length: MAX_EXPORTS_PER_ACCOUNT }, () => heldExport(escaped)));
    expect(held.map(({ response }) => response.statusCode)).toEqual(held.map(() => 200));
    const refused = await fetch(`${base}/v1/conversations/${escaped}/export`, { headers: bearer(owner.accessToken) });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ code: 'rate_limited' });
    const short = await fetch(`${base}/v1/conversations/${plain}/export`, { headers: bearer(owner.accessToken) });
    expect(short.status).toBe(200);
    for (const { request } of held) request.destroy();

    // Once the server hears that the held clients left, their places are free again.
    const whole = await untilStatus(() => fetch(`${base}/v1/conversations/${escaped}/export`, { headers: bearer(owner.accessToken) }));
    expect(whole.status).toBe(200);
    const document = (await whole.json()) as { conversation: { id: string }; messages: Array<{ content: string }> };
    expect(document.conversation.id).toBe(escaped);
    expect(document.messages).toHaveLength(MESSAGES);
    expect(document.messages.every((message) => message.content === '\u0001'.repeat(CHARS))).toBe(true);
  });
});
