// How big a bulk export's batches get when conversations are long. A batch stopped only at 200
// conversations or 5,000 messages: 60 conversations of 100 messages of 30,000 characters made a
// first batch of 150 MB, and the server grew by 400 MB while writing it (a small VPS's whole
// memory). Batches that carry the messages' text now stop at EXPORT_BATCH_BYTES of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_EXPORT_SETTINGS, EXPORT_BATCH_BYTES, exportText } from '../../src/features/exports/export-stream.js';
import { createExportsRepo, ownerAccess, type ExportBatchRequest } from '../../src/features/exports/exports.repo.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let owner: RegisteredUser;
let chatbot: { id: string };
const MESSAGE_BYTES = 300_000;
// Four messages each: 1.2 MB a conversation, three to a batch.
const LONG = 6;

beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
  chatbot = await createChatbot(t, owner);
  const insert = (title: string, second: number, messages: number, bytes: number) =>
    t.database.sql.query(
      `WITH c AS (
         INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, message_count)
         VALUES (gen_random_uuid(), $1, $2, $3, '2026-04-01T00:00:00Z'::timestamptz + $4 * interval '1 second', now(), $5) RETURNING id, user_id)
       INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
       SELECT gen_random_uuid(), c.id, c.user_id, CASE WHEN j % 2 = 1 THEN 'user' ELSE 'assistant' END, repeat(chr(97 + j % 26), $6), 'complete', 1,
              '2026-04-01T00:00:00Z'::timestamptz + j * interval '1 millisecond'
         FROM c, generate_series(1, $5) AS j`,
      [owner.id, chatbot.id, title, second, messages, bytes],
    );
  for (let i = 0; i < LONG; i++) await insert(`long ${i}`, i, 4, MESSAGE_BYTES);
  // One conversation larger than a whole batch's budget, then a short one.
  await insert('huge', LONG, 3, Math.ceil(EXPORT_BATCH_BYTES / 2));
  await insert('short', LONG + 1, 2, 10);
}, 120_000);
afterAll(async () => {
  await t?.close();
});

describe('the batches of a bulk export', () => {
  const repo = () => createExportsRepo(ownerAccess(t.database.sql));
  const request = (): ExportBatchRequest => ({ filter: { chatbotId: chatbot.id }, after: null, limit: 200, maxMessages: 5_000, maxBytes: EXPORT_BATCH_BYTES });

  async function batchSizes(read: (request: ExportBatchRequest) => Promise<{ rows: unknown[]; next: ExportBatchRequest['after']; paged?: string | null }>) {
    const sizes: Array<number | 'paged'> = [];
    let next = request();
    for (;;) {
      const batch = await read(next);
      sizes.push(batch.paged ? 'paged' : batch.rows.length);
      if (!batch.next) return sizes;
      next = { ...next, after: batch.next };
    }
  }

  it('stop once the messages\' text passes the budget, and name a conversation larger than it alone, to be read in pages', async () => {
    expect(await batchSizes((r) => repo().documents(owner.id, r))).toEqual([3, 3, 'paged', 1]);
  });

  it('of CSV lines, which hold no messages\' text, are not cut by it', async () => {
    expect(await batchSizes((r) => repo().csvRecords(owner.id, r, []))).toEqual([LONG + 2]);
  });

  it('still make the whole export, every conversation in order with all its messages', async () => {
    const plan = { ownerId: owner.id, chatbots: [{ id: chatbot.id, ownerId: owner.id, collect: null }], filter: {}, format: 'ndjson' as const, csvKeys: [] };
    let text = '';
    for await (const chunk of exportText(repo(), plan, { settings: DEFAULT_EXPORT_SETTINGS })) text += chunk;
    const documents = text.trim().split('\n').map((line) => JSON.parse(line) as { conversation: { title: string }; messages: Array<{ content: string }> });
    expect(documents.map((d) => d.conversation.title)).toEqual([...Array.from({ length: LONG }, (_, i) => `long ${i}`), 'huge', 'short']);
    expect(documents.map((d) => d.messages.length)).toEqual([...Array.from({ length: LONG }, () => 4), 3, 2]);
    expect(documents[0]!.messages[0]!.content).toHaveLength(MESSAGE_BYTES);
  });
});
