// A conversation whose messages' text passes a batch's budget is exported a page of its messages
// at a time, by the single export and the bulk one alike: the same document, byte for byte, as
// the one written whole; messages deleted while it is read make it fail, never end short; and a
// streamed single export takes one of the account's export places.
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EXPORTS_PER_ACCOUNT } from '../../src/features/exports/export-slots.js';
import { documentBytes, exportText, type ExportPlan, type ExportSettings } from '../../src/features/exports/export-stream.js';
import { createExportsRepo, ownerAccess, type ExportsRepo } from '../../src/features/exports/exports.repo.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

let t: TestApp;
let base: string;
let owner: RegisteredUser;
let chatbot: { id: string };
const ids: Record<string, string> = {};
/** Messages of the long conversation: 40 of 1.2 MB (Chinese, quotes and new lines), 48 MB in all: more than the sockets between a server and a client that stopped reading hold. */
const LONG_MESSAGES = 40;

beforeAll(async () => {
  t = await createTestApp();
  base = await listen(t);
  owner = await registerUser(t);
  chatbot = await createChatbot(t, owner);
  const insert = async (title: string, second: number, messages: number, text: string) => {
    const [row] = await t.database.sql.query<{ id: string }>(
      `INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, message_count, data)
       VALUES (gen_random_uuid(), $1, $2, $3, '2026-04-01T00:00:00Z'::timestamptz + $4 * interval '1 second', now(), $5, '{"company": "Acme 股份有限公司"}')
       RETURNING id`,
      [owner.id, chatbot.id, title, second, messages],
    );
    await t.database.sql.query(
      `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
       SELECT gen_random_uuid(), $1, $2, CASE WHEN j % 2 = 1 THEN 'user' ELSE 'assistant' END, j || ': ' || ${text}, 'complete', 1,
              '2026-04-01T00:00:00Z'::timestamptz + j * interval '1 millisecond'
         FROM generate_series(1, $3::int) AS j`,
      [row!.id, owner.id, messages],
    );
    // What only some messages carry: feedback, usage, latency, an error.
    await t.database.sql.query(
      `UPDATE messages SET feedback_rating = 'like', feedback_comment = '"好" \\ ok', prompt_tokens = 12, completion_tokens = 34, latency_ms = 56
        WHERE conversation_id = $1 AND content LIKE '2:%'`,
      [row!.id],
    );
    await t.database.sql.query(`UPDATE messages SET status = 'failed', error_code = 'timeout' WHERE conversation_id = $1 AND content LIKE '4:%'`, [row!.id]);
    ids[title] = row!.id;
  };
  await insert('first long', 0, LONG_MESSAGES, `repeat('漢字 and "quotes"\n', 50000)`);
  await insert('short', 1, 4, `'a short message'`);
  await insert('second long', 2, 12, `repeat('x', 300000)`);
  await insert('empty', 3, 0, `''`);
}, 120_000);
afterAll(async () => {
  await t?.close();
});

/** The repository, counting the pages of messages read. */
function countingRepo(onPage: (n: number) => Promise<void> = async () => {}): { repo: ExportsRepo; pages: () => number } {
  const real = createExportsRepo(ownerAccess(t.database.sql));
  let pages = 0;
  return {
    repo: {
      ...real,
      async messagePage(userId, request) {
        const page = await real.messagePage(userId, request);
        await onPage(++pages);
        return page;
      },
    },
    pages: () => pages,
  };
}

const SMALL: ExportSettings = { batchSize: 200, batchMessages: 5, batchBytes: 1024 * 1024 };
const UNLIMITED: ExportSettings = { batchSize: 200, batchMessages: 1_000_000, batchBytes: 1024 * 1024 * 1024 };

async function text(chunks: AsyncIterable<Buffer | string>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts).toString('utf8');
}

describe('a conversation exported a page of its messages at a time', () => {
  it('is the document written whole, byte for byte', async () => {
    for (const title of ['first long', 'second long']) {
      const { repo, pages } = countingRepo();
      const start = (await repo.documentStart(owner.id, ids[title]!, SMALL.batchBytes))!;
      expect(start.whole).toBeNull();
      const paged = await text(documentBytes(repo, owner.id, ids[title]!, start, SMALL));
      expect(pages()).toBeGreaterThan(2);
      const whole = (await repo.documentStart(owner.id, ids[title]!, UNLIMITED.batchBytes))!.whole!;
      expect(paged).toBe(whole);
      expect(JSON.parse(paged).messages).toHaveLength(title === 'first long' ? LONG_MESSAGES : 12);
    }
  });

  // Four exports of two 48 MB conversations: 17 s on PGlite and 33 s on PostgreSQL under CI on a slow machine.
  it('is the same in bulk exports, JSON and NDJSON, wherever it falls among the others', { timeout: 90_000 }, async () => {
    const plan = (format: 'json' | 'ndjson'): ExportPlan => ({ ownerId: owner.id, chatbots: [{ id: chatbot.id, ownerId: owner.id, collect: null }], filter: {}, format, csvKeys: [] });
    for (const format of ['json', 'ndjson'] as const) {
      const { repo, pages } = countingRepo();
      const paged = await text(exportText(repo, plan(format), { settings: SMALL }));
      expect(pages()).toBeGreaterThan(4);
      const whole = await text(exportText(repo, plan(format), { settings: UNLIMITED }));
      // Not toBe: a failure would print 40 MB.
      expect(paged === whole, `${format}: ${paged.length} characters paged, ${whole.length} whole`).toBe(true);
      const documents = format === 'json' ? JSON.parse(paged) : paged.trim().split('\n').map((line) => JSON.parse(line));
      expect(documents.map((d: { conversation: { title: string } }) => d.conversation.title)).toEqual(['first long', 'short', 'second long', 'empty']);
    }
  });

  it('fails, rather than ends short, when messages are deleted while it is read', async () => {
    const owner2 = await registerUser(t);
    const bot = await createChatbot(t, owner2);
    const [conversation] = await t.database.sql.query<{ id: string }>(
      `INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, message_count) VALUES (gen_random_uuid(), $1, $2, 'regenerated', now(), now(), 20) RETURNING id`,
      [owner2.id, bot.id],
    );
    await t.database.sql.query(
      `INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
       SELECT gen_random_uuid(), $1, $2, CASE WHEN j % 2 = 1 THEN 'user' ELSE 'assistant' END, repeat('y', 200000), 'complete', 1, now() FROM generate_series(1, 20) AS j`,
      [conversation!.id, owner2.id],
    );
    // After the first page, the conversation's newest message is deleted (as a regenerated reply is).
    const { repo } = countingRepo(async (n) => {
      if (n === 1) await t.database.sql.query('DELETE FROM messages WHERE id = (SELECT max(id::text)::uuid FROM messages WHERE conversation_id = $1)', [conversation!.id]);
    });
    const start = (await repo.documentStart(owner2.id, conversation!.id, SMALL.batchBytes))!;
    await expect(text(documentBytes(repo, owner2.id, conversation!.id, start, SMALL))).rejects.toThrow(/changed while it was exported: 19 of its 20 messages/);
  });
});

describe('a long conversation deleted after its batch named it', () => {
  it('is left out of the bulk export, which stays whole and valid', async () => {
    const owner3 = await registerUser(t);
    const bot = await createChatbot(t, owner3);
    const insert = (title: string, second: number, chars: number) =>
      t.database.sql.query(
        `WITH c AS (
           INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at, message_count)
           VALUES (gen_random_uuid(), $1, $2, $3, '2026-05-01T00:00:00Z'::timestamptz + $4 * interval '1 second', now(), 2) RETURNING id, user_id)
         INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
         SELECT gen_random_uuid(), c.id, c.user_id, 'user', repeat('w', $5), 'complete', 1, now() FROM c, generate_series(1, 2)`,
        [owner3.id, bot.id, title, second, chars],
      );
    await insert('before', 0, 10);
    await insert('gone', 1, 800_000);
    await insert('after', 2, 10);
    const real = createExportsRepo(ownerAccess(t.database.sql));
    const repo: ExportsRepo = {
      ...real,
      async documents(ownerId, request) {
        const batch = await real.documents(ownerId, request);
        if (batch.paged) await t.database.sql.query('DELETE FROM conversations WHERE id = $1', [batch.paged]);
        return batch;
      },
    };
    const plan: ExportPlan = { ownerId: owner3.id, chatbots: [{ id: bot.id, ownerId: owner3.id, collect: null }], filter: {}, format: 'json', csvKeys: [] };
    const exported = JSON.parse(await text(exportText(repo, plan, { settings: SMALL }))) as Array<{ conversation: { title: string } }>;
    expect(exported.map((d) => d.conversation.title)).toEqual(['before', 'after']);
  });
});

describe('GET /v1/conversations/{id}/export of a long conversation', () => {
  it('answers the conversation and every message as GET answers them', async () => {
    const response = await t.request({ method: 'GET', url: `/v1/conversations/${ids['first long']}/export`, headers: bearer(owner.accessToken) });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['cache-control']).toBe('no-store');
    const document = json(response);
    const shown = json(await t.request({ method: 'GET', url: `/v1/conversations/${ids['first long']}`, headers: bearer(owner.accessToken) }));
    const listed = json(await t.request({ method: 'GET', url: `/v1/conversations/${ids['first long']}/messages?limit=100`, headers: bearer(owner.accessToken) }));
    expect(document.conversation).toEqual(shown);
    expect(document.messages).toEqual(listed.data);
    expect(document.messages).toHaveLength(LONG_MESSAGES);
    const numbered = (n: number) => document.messages.find((message: { content: string }) => message.content.startsWith(`${n}: `));
    expect(numbered(2)).toMatchObject({ feedback: { rating: 'like', comment: '"好" \\ ok' }, usage: { prompt_tokens: 12, completion_tokens: 34 }, latency_ms: 56 });
    expect(numbered(4)).toMatchObject({ status: 'failed', error: 'timeout' });
    expect(document.data).toEqual({ company: 'Acme 股份有限公司' });
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

  it(`counts towards the ${MAX_EXPORTS_PER_ACCOUNT} exports an account reads at once; a short one does not`, { timeout: 60_000 }, async () => {
    const held = await Promise.all(Array.from({ length: MAX_EXPORTS_PER_ACCOUNT }, () => heldExport(ids['first long']!)));
    expect(held.map(({ response }) => response.statusCode)).toEqual(held.map(() => 200));
    const refused = await fetch(`${base}/v1/conversations/${ids['first long']}/export`, { headers: bearer(owner.accessToken) });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ code: 'rate_limited' });
    const short = await fetch(`${base}/v1/conversations/${ids.short}/export`, { headers: bearer(owner.accessToken) });
    expect(short.status).toBe(200);
    expect(((await short.json()) as { messages: unknown[] }).messages).toHaveLength(4);
    for (const { request } of held) request.destroy();
  });
});
