/**
 * The export phase's data, written straight into the database as the tables' owner: N completed
 * conversations of one chatbot, each with the company-onboarding data collected (Chinese and Bengali
 * text, numbers, strings a spreadsheet would read as formulas, 1–3 products) and four messages.
 * `INSERT … SELECT … FROM generate_series` in chunks, so 100,000 conversations take seconds, not
 * the hours that many real turns would.
 *
 * Ids are UUIDv7-shaped (48-bit millisecond time, version 7, variant 10) with the row's own time,
 * so they sort as the API's ids do; conversations are created one second apart, oldest first.
 */
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import type { SqlRunner } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';

/** Where the bench reaches the database as the tables' owner (row security does not apply to it). */
export type OwnerTarget = { kind: 'postgres'; url: string } | { kind: 'pglite'; dir: string };

export interface OwnerConnection {
  sql: SqlRunner;
  close(): Promise<void>;
}

export const MESSAGES_PER_CONVERSATION = 4;
const CHUNK = 10_000;

function pgliteRunner(client: Pick<PGlite, 'query' | 'exec'> & { transaction?: PGlite['transaction'] }): SqlRunner {
  return {
    query: async <T>(text: string, params: unknown[] = []) => (await client.query<T>(text, params)).rows,
    exec: async (text) => {
      await client.exec(text);
    },
    transaction: (fn) => (client.transaction ? client.transaction((tx) => fn(pgliteRunner(tx))) : fn(pgliteRunner(client))),
  };
}

function postgresRunner(client: postgres.Sql | postgres.TransactionSql): SqlRunner {
  return {
    query: async <T>(text: string, params: unknown[] = []) => (await client.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as T[],
    exec: async (text) => {
      await client.unsafe(text);
    },
    transaction: async (fn) => {
      if (!('begin' in client)) return fn(postgresRunner(client));
      return (await client.begin((tx) => fn(postgresRunner(tx)))) as Awaited<ReturnType<typeof fn>>;
    },
  };
}

/** Opens the database as its owner; a PGlite folder must not be open in any other process meanwhile. */
export async function openOwner(target: OwnerTarget): Promise<OwnerConnection> {
  if (target.kind === 'postgres') {
    const client = postgres(target.url, { max: 1, onnotice: () => {} });
    return { sql: postgresRunner(client), close: () => client.end({ timeout: 5 }) };
  }
  const client = new PGlite(target.dir);
  await client.waitReady;
  return { sql: pgliteRunner(client), close: () => client.close() };
}

// A UUIDv7 from a millisecond time (bigint expression) and a sequence number unique in its table.
const uuid7 = (ms: string, seq: string) => `(lpad(to_hex(${ms}), 12, '0') || '7000' || '8' || lpad(to_hex(${seq}), 15, '0'))::uuid`;
const at = (ms: string) => `(timestamptz 'epoch' + (${ms}) * interval '1 millisecond')`;

// Conversations: $1 owner, $2 chatbot, $3 the first one's time (ms since the epoch), $4..$5 the chunk's range [from, to).
// Messages: the same without the chatbot ($1 owner, $2 time, $3..$4 range).
const conversationMs = (first: number) => `($${first}::bigint + i::bigint * 1000)`;
const CONVERSATION_MS = conversationMs(3);
const COMPANY = `((ARRAY['台灣積體電路股份有限公司', 'Acme Widgets Ltd.', '=HYPERLINK("http://example.com","公司")', 'বাংলাদেশ টেক লিমিটেড',
  '+Plus Trading, "Quoted" & Co.', '山田製作所', '-Minus Logistics', '@Home 家居'])[1 + i % 8] || ' ' || i)`;

const INSERT_CONVERSATIONS = `
INSERT INTO conversations (id, user_id, chatbot_id, title, status, message_count, data, created_at, updated_at)
SELECT ${uuid7(CONVERSATION_MS, 'i')}, $1::uuid, $2::uuid, left(${COMPANY}, 60), 'completed', ${MESSAGES_PER_CONVERSATION},
  jsonb_build_object(
    'company_name', ${COMPANY},
    'industry', (ARRAY['半導體', 'Software', 'Food & beverage', '=1+1', '物流運輸', 'Textiles'])[1 + i % 6],
    'company_size', 1 + (i * 37) % 5000,
    'country', (ARRAY['台灣', 'Japan', 'Deutschland', '+886', 'বাংলাদেশ', 'United States'])[1 + i % 6],
    'contact_name', (ARRAY['王小明', 'Jane O''Neil', 'শাহানা পারভীন', '李美玲', 'José Núñez'])[1 + i % 5],
    'contact_email', 'contact' || i || '@company' || i % 977 || '.example.com',
    'website', 'https://company' || i || '.example.com/關於我們',
    'products', (SELECT jsonb_agg(jsonb_build_object(
        'name', (ARRAY['晶圓代工服務', 'Widget Pro', '=SUM(A1:A9)', 'চা পাতা', '+Plus Plan', '雲端備份'])[1 + (i + k) % 6] || ' ' || k,
        'description', (ARRAY['先進製程，良率穩定，交期約八週。', 'A sturdy widget, "industrial" grade, 3-year warranty.', '',
          'উচ্চমানের চা, সরাসরি বাগান থেকে', '+24/7 support, 99.9% uptime'])[1 + (i * 3 + k) % 5],
        'price', round(((i * 13 + k * 7) % 100000)::numeric / 100, 2)))
      FROM generate_series(1, 1 + i % 3) AS k)),
  ${at(CONVERSATION_MS)}, ${at(`${CONVERSATION_MS} + ${MESSAGES_PER_CONVERSATION * 100}`)}
FROM generate_series($4::int, $5::int - 1) AS i`;

const MESSAGE_CONVERSATION_MS = conversationMs(2);
const MESSAGE_MS = `(${MESSAGE_CONVERSATION_MS} + (j + 1) * 100)`;
const CONTENT = `CASE j
  WHEN 0 THEN (ARRAY['您好，我想登錄我們公司的資料。', 'Hi, I would like to register our company.', 'হ্যালো, আমাদের কোম্পানির তথ্য দিতে চাই।'])[1 + i % 3]
  WHEN 1 THEN '您好！我會協助您完成公司資料登錄，過程大約需要幾分鐘。請問貴公司的名稱是什麼？'
  WHEN 2 THEN ${COMPANY}
  ELSE '感謝您！公司資料已完整登錄。' END`;

const INSERT_MESSAGES = `
INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, model, prompt_tokens, completion_tokens, latency_ms, created_at)
SELECT ${uuid7(MESSAGE_MS, `i::bigint * ${MESSAGES_PER_CONVERSATION} + j`)}, ${uuid7(MESSAGE_CONVERSATION_MS, 'i')}, $1::uuid,
  CASE WHEN j % 2 = 0 THEN 'user' ELSE 'assistant' END, ${CONTENT}, 'complete', 12 + (i + j) % 40,
  CASE WHEN j % 2 = 1 THEN 'fake-model' END,
  CASE WHEN j % 2 = 1 THEN 180 + (i % 50) * j END,
  CASE WHEN j % 2 = 1 THEN 20 + i % 30 END,
  CASE WHEN j % 2 = 1 THEN 150 + i % 900 END,
  ${at(MESSAGE_MS)}
FROM generate_series($3::int, $4::int - 1) AS i, generate_series(0, ${MESSAGES_PER_CONVERSATION - 1}) AS j`;

export interface SeedOptions {
  ownerId: string;
  chatbotId: string;
  conversations: number;
  say: (line: string) => void;
}

/**
 * Migrates (a no-op once the server has) and writes the conversations and their messages, a
 * chunk per transaction, then VACUUM ANALYZE as autovacuum would have done on a database that
 * held them for real (so neither reader pays for setting hint bits on fresh rows).
 */
export async function seedConversations(sql: SqlRunner, options: SeedOptions): Promise<{ seconds: number }> {
  const { ownerId, chatbotId, conversations, say } = options;
  await migrate(sql);
  const started = performance.now();
  // Oldest a little over N seconds ago, so every conversation lies in the past.
  const firstMs = Date.now() - (conversations + 60) * 1000;
  for (let from = 0; from < conversations; from += CHUNK) {
    const to = Math.min(conversations, from + CHUNK);
    await sql.transaction(async (tx) => {
      await tx.query(INSERT_CONVERSATIONS, [ownerId, chatbotId, firstMs, from, to]);
      await tx.query(INSERT_MESSAGES, [ownerId, firstMs, from, to]);
    });
    say(`seeded ${to.toLocaleString('en-US')} of ${conversations.toLocaleString('en-US')} conversations (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  say('VACUUM ANALYZE conversations, messages');
  await sql.exec('VACUUM ANALYZE conversations');
  await sql.exec('VACUUM ANALYZE messages');
  return { seconds: (performance.now() - started) / 1000 };
}

/** Conversations and messages of this chatbot as stored (a check that the seed wrote what the export must return). */
export async function countSeeded(sql: SqlRunner, chatbotId: string): Promise<{ conversations: number; messages: number }> {
  const [row] = await sql.query<{ conversations: string | number; messages: string | number }>(
    `SELECT (SELECT count(*) FROM conversations WHERE chatbot_id = $1::uuid AND status = 'completed') AS conversations,
            (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.chatbot_id = $1::uuid) AS messages`,
    [chatbotId],
  );
  return { conversations: Number(row?.conversations ?? 0), messages: Number(row?.messages ?? 0) };
}
