// How big a CSV export's batches get when conversations collected a lot. A CSV line holds no
// messages' text, so its batches were cut at 200 conversations or 5,000 messages only; but a line
// holds the collected values, and a turn may store up to twice its message (a list keeps 500
// items of up to 20 fields): 150 conversations of 1 MB of collected items made one batch of
// 150 MB, and the server (the embedded database in it) grew by 336 MB while it was written.
// CSV batches now stop once the collected values pass EXPORT_BATCH_BYTES, as documents stop at
// their messages' text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_EXPORT_SETTINGS, EXPORT_BATCH_BYTES, exportText } from '../../src/features/exports/export-stream.js';
import { createExportsRepo, ownerAccess, type ExportBatchRequest } from '../../src/features/exports/exports.repo.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createChatbot } from '../helpers/chat.js';
import { registerUser, type RegisteredUser } from '../helpers/factories.js';
import { parseCsv } from './csv-parse.js';

let t: TestApp;
let owner: RegisteredUser;
let chatbot: { id: string; collect: unknown };
/** Items of 1,000 characters: 1.2 MB of collected values a conversation, three to a batch (and a short one beside them). */
const ITEMS = 1_200;
const MANY = 6;

const COLLECT = { fields: [{ key: 'products', label: 'Products', type: 'list', item_fields: [{ key: 'name', label: 'Name', type: 'string', required: true }] }] };

beforeAll(async () => {
  t = await createTestApp();
  owner = await registerUser(t);
  chatbot = await createChatbot(t, owner, { name: 'Catalogue', collect: COLLECT });
  const insert = (title: string, second: number, items: number) =>
    t.database.sql.query(
      `INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, message_count, data)
       SELECT gen_random_uuid(), $1, $2, $3, '2026-04-01T00:00:00Z'::timestamptz + $4 * interval '1 second', now(), 2,
              jsonb_build_object('products', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', repeat(chr(97 + i % 26), 1000))), '[]'::jsonb) FROM generate_series(1, $5) AS i))`,
      [owner.id, chatbot.id, title, second, items],
    );
  for (let i = 0; i < MANY; i++) await insert(`many ${i}`, i, ITEMS);
  await insert('few', MANY, 1);
}, 120_000);
afterAll(async () => {
  await t?.close();
});

describe('the batches of a CSV export', () => {
  const repo = () => createExportsRepo(ownerAccess(t.database.sql));
  const request = (): ExportBatchRequest => ({ filter: { chatbotId: chatbot.id }, after: null, limit: 200, maxMessages: 5_000, maxBytes: EXPORT_BATCH_BYTES });

  it('stop once the collected values pass the budget', async () => {
    const sizes: number[] = [];
    let next = request();
    for (;;) {
      const batch = await repo().csvRecords(owner.id, next, ['products']);
      sizes.push(batch.rows.length);
      if (!batch.next) break;
      next = { ...next, after: batch.next };
    }
    expect(sizes).toEqual([3, 4]);
  });

  it('still make the whole export, every conversation in order with all it collected', async () => {
    const plan = { ownerId: owner.id, chatbots: [{ id: chatbot.id, ownerId: owner.id, collect: COLLECT }], filter: {}, format: 'csv' as const, csvKeys: ['products'] };
    let text = '';
    for await (const chunk of exportText(repo(), plan, { settings: DEFAULT_EXPORT_SETTINGS })) text += chunk;
    const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/u, ''));
    expect(header!.map((cell) => cell.value)).toEqual(['conversation_id', 'status', 'created_at', 'updated_at', 'products']);
    expect(rows.map((row) => (JSON.parse(row[4]!.value) as unknown[]).length)).toEqual([...Array.from({ length: MANY }, () => ITEMS), 1]);
  });
});
