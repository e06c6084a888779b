// What exports read (§9): a chatbot's conversations a batch at a time, walked in (created_at, id)
// order on conversations_export_idx (migrations/0013), each batch with its messages in one
// statement, inside the owner's tenant. Keyset batches, not a server-side cursor: PGlite has
// none, and a batch holds no connection while the client reads. Documents come as JSON text
// (export-sql.ts) and every column as text, so the driver parses no jsonb.
import type { SqlRunner } from '../../db/client.js';
import type { Scoped } from '../../db/scope.js';
import { csvColumns, CURSOR_AT, DOCUMENT_HEAD_JSON, DOCUMENT_JSON, DOCUMENT_TAIL_JSON, MESSAGE_JSON } from './export-sql.js';

/** How the repository reaches the database: one transaction per call, in a tenant or the admin scope. */
export interface ExportAccess {
  /** One transaction that sees only this user's rows (row security on PostgreSQL). */
  user<T>(userId: string, fn: (sql: SqlRunner) => Promise<T>): Promise<T>;
  /** One transaction in the admin scope: only the CLI, to find a chatbot (and so its owner) by id. */
  admin<T>(fn: (sql: SqlRunner) => Promise<T>): Promise<T>;
}

/** Requests: the app role under row security (db/scope.ts). */
export function scopedAccess(scoped: Scoped): ExportAccess {
  return {
    user: (userId, fn) => scoped.user(userId, ({ sql }) => fn(sql)),
    admin: (fn) => scoped.system('admin', ({ sql }) => fn(sql)),
  };
}

const ENTER = "SELECT set_config('app.user_id', $1, true), set_config('app.scope', $2, true)";

/** The CLI: the connecting role (as `parley users`), with the same settings, so row security reads the same where it applies. */
export function ownerAccess(sql: SqlRunner): ExportAccess {
  const run = <T>(userId: string, scope: string, fn: (tx: SqlRunner) => Promise<T>) =>
    sql.transaction(async (tx) => {
      await tx.query(ENTER, [userId, scope]);
      return fn(tx);
    });
  return { user: (userId, fn) => run(userId, '', fn), admin: (fn) => run('', 'admin', fn) };
}

export interface ExportChatbot {
  id: string;
  ownerId: string;
  /** chatbots.collect as stored: `{fields: [{key, …}], completion_message?}` or null. */
  collect: unknown;
}

export interface ExportFilter {
  chatbotId: string;
  status?: 'active' | 'completed';
  /** Created at or after this instant (ISO, UTC). */
  createdFrom?: string;
  /** Created before this instant (ISO, UTC). */
  createdBefore?: string;
}

/** The (created_at, id) of the last conversation of a batch; the time to the microsecond, as PostgreSQL keeps it. */
export type ExportCursor = [createdAt: string, id: string];

/** Where a batch starts and how big it may be. */
export interface ExportBatchRequest {
  filter: ExportFilter;
  /** The last conversation of the batch before; null for the first. */
  after: ExportCursor | null;
  /** At most this many conversations. */
  limit: number;
  /** A batch stops early once it holds this many messages (at least one conversation is always taken). */
  maxMessages: number;
  /** A batch with the messages' text stops early once their text passes this many bytes (at least one conversation is always taken). */
  maxBytes: number;
}

export interface ExportBatch<T> {
  rows: T[];
  /** Where the next batch starts; null when this one was the last. */
  next: ExportCursor | null;
}

/** A batch of documents. A conversation whose messages' text alone passes the budget comes alone, by its id, to be read in pages. */
export interface DocumentBatch extends ExportBatch<string> {
  paged: string | null;
}

/** A conversation's document as its first statement read it. */
export interface DocumentStart {
  /** The conversation's owner, whose tenant holds its messages (for a verified visit, the chatbot's owner). */
  ownerId: string;
  /** The whole document, when its messages' text is within the budget; null when they are read in pages. */
  whole: string | null;
  /** Paged: the document up to its messages' `[`, and from their `]` on. */
  head: string;
  tail: string;
  /** Paged: the newest message when the conversation was read. The document is it and the messages before it. */
  lastMessageId: string | null;
  /** Paged: how many messages that is. */
  messages: number;
}

/** The next page of a paged document's messages. */
export interface MessagePageRequest {
  conversationId: string;
  ownerId: string;
  /** The last message of the page before; null for the first. */
  after: string | null;
  /** The document's last message: none after it is read. */
  last: string;
  maxMessages: number;
  /** The page stops once the messages' text passes this many bytes (its first message is always taken). */
  maxBytes: number;
}

export interface MessagePage {
  /** Each message as its document's item (JSON text), oldest first. */
  items: string[];
  lastId: string | null;
}

/** What a CSV line needs: the fixed columns, and the collected values of the plan's keys as a JSON array (null when there are no keys). */
export type CsvRecord = {
  id: string;
  status: string;
  created_at: string;
  updated_at: string;
  cells: string | null;
};

export interface ExportsRepo {
  /** The owner's chatbots, oldest first, or only `chatbotId` (none when it is not theirs). */
  chatbots(ownerId: string, chatbotId: string | null): Promise<ExportChatbot[]>;
  /** Any chatbot by id, whoever owns it (admin scope: the CLI). */
  findChatbot(chatbotId: string): Promise<ExportChatbot | undefined>;
  count(ownerId: string, filter: ExportFilter): Promise<number>;
  /** The next batch of conversations, oldest first, each as its export document's JSON text (export-sql.ts). */
  documents(ownerId: string, request: ExportBatchRequest): Promise<DocumentBatch>;
  /** The next batch of conversations, oldest first, as CSV needs them: the collected values of `keys`, in their order. */
  csvRecords(ownerId: string, request: ExportBatchRequest, keys: string[]): Promise<ExportBatch<CsvRecord>>;
  /**
   * One conversation's document, whole when its messages' text is at most `maxBytes`, else its
   * start: the caller's own, or (accounts) one of their verified visits of another owner's public
   * chatbot (§7), as GET /v1/conversations/{id} reads them.
   */
  documentStart(userId: string, conversationId: string, maxBytes: number): Promise<DocumentStart | undefined>;
  /** The next page of a paged document's messages, read in the caller's tenant. */
  messagePage(userId: string, request: MessagePageRequest): Promise<MessagePage>;
}

/** The filter's SQL: only the conditions that apply, so each variant is planned (and prepared) on the index. */
function where(ownerId: string, filter: ExportFilter, after: ExportCursor | null): { text: string; params: unknown[] } {
  const params: unknown[] = [filter.chatbotId, ownerId];
  const conditions = ['c.chatbot_id = $1::uuid', 'c.user_id = $2::uuid'];
  const add = (condition: (n: string) => string, ...values: unknown[]) => {
    const first = params.length + 1;
    params.push(...values);
    conditions.push(condition(`$${first}`));
  };
  if (filter.status) add((n) => `c.status = ${n}`, filter.status);
  if (filter.createdFrom) add((n) => `c.created_at >= ${n}::timestamptz`, filter.createdFrom);
  if (filter.createdBefore) add((n) => `c.created_at < ${n}::timestamptz`, filter.createdBefore);
  if (after) add((n) => `(c.created_at, c.id) > (${n}::timestamptz, $${params.length}::uuid)`, after[0], after[1]);
  return { text: conditions.join(' AND '), params };
}

/** What a batch of documents weighs a conversation by: its messages' text (octet_length reads a stored text's size from its header, not the text). */
const MESSAGES_BYTES = '(SELECT coalesce(sum(octet_length(m.content)), 0) FROM messages m WHERE m.conversation_id = c.id)';
/**
 * What a batch of CSV lines weighs a conversation by: its collected values as text. A line holds
 * no messages, but a turn may store up to twice its message as values: 150 conversations of 1 MB
 * of collected items made one batch of 150 MB.
 */
const DATA_BYTES = 'coalesce(octet_length(c.data::text), 0)';

/**
 * A batch: up to `limit` conversations after the cursor (`page`), cut once the messages so far
 * pass `maxMessages` or once what the batch carries (`weight.of`, per conversation) passes
 * `weight.max` bytes (the first is always taken), so long conversations do not make it big; only
 * the conversations kept are turned into `select`. `page_rows` tells whether more may follow.
 */
function batchStatement(select: string, where: string, limit: number, maxMessages: string, weight: { of: string; max: string }): string {
  return `SELECT c.id, ${CURSOR_AT} AS cursor_at, c.page_rows::int AS page_rows, ${select}
  FROM (SELECT p.*, count(*) OVER () AS page_rows, sum(p.message_count) OVER w AS running, sum(p.bytes) OVER w AS running_bytes, row_number() OVER w AS n
          FROM (SELECT c.id, c.user_id, c.chatbot_id, c.title, c.status, c.context, c.message_count, c.data, c.created_at, c.updated_at, ${weight.of} AS bytes
                  FROM conversations c WHERE ${where} ORDER BY c.created_at, c.id LIMIT ${Number(limit)}) p
        WINDOW w AS (ORDER BY p.created_at, p.id ROWS UNBOUNDED PRECEDING)) c
 WHERE c.n = 1 OR (c.running <= ${maxMessages}::bigint AND c.running_bytes <= ${weight.max}::bigint)
 ORDER BY c.created_at, c.id`;
}

type BatchRow = { id: string; cursor_at: string; page_rows: number };

/**
 * Empties a result array the driver handed over, once read. postgres.js makes each query's
 * array when the query before it ends, so the array lives long enough for V8 to allocate the
 * arrays of that site in the old generation ("pretenuring"): every row stored in one is then
 * held by it through each young-generation collection until the next full one, long after the
 * batch was written. Measured at 100,000 conversations, that was nearly all the export's text
 * kept as garbage; emptied, the rows die young.
 */
function release(rows: unknown[]): void {
  rows.length = 0;
}

function nextCursor(rows: BatchRow[], limit: number): ExportCursor | null {
  const last = rows[rows.length - 1];
  if (!last) return null;
  const pageRows = Number(last.page_rows);
  return pageRows === limit || rows.length < pageRows ? [last.cursor_at, last.id] : null;
}

/**
 * A conversation's document, or its start, in one statement: the caller's own conversation, or
 * (accounts) a verified visit of theirs (migrations/0011), as conversations.repo's find reads it.
 * Its messages are counted and weighed (octet_length reads a stored text's size from its header)
 * and, within the budget, written out whole; past it, only the document's ends are.
 */
const START_STATEMENT = `SELECT c.user_id AS owner_id, s.messages::int AS messages, s.last_id,
       CASE WHEN s.bytes <= $3::bigint THEN ${DOCUMENT_JSON} END AS whole,
       CASE WHEN s.bytes > $3::bigint THEN ${DOCUMENT_HEAD_JSON} END AS head,
       CASE WHEN s.bytes > $3::bigint THEN ${DOCUMENT_TAIL_JSON} END AS tail
  FROM conversations c
 CROSS JOIN LATERAL (
       SELECT count(*) AS messages, coalesce(sum(octet_length(m.content)), 0) AS bytes,
              (SELECT l.id FROM messages l WHERE l.conversation_id = c.id AND l.user_id = c.user_id ORDER BY l.id DESC LIMIT 1) AS last_id
         FROM messages m WHERE m.conversation_id = c.id AND m.user_id = c.user_id) s
 WHERE c.id = $1::uuid
   AND (c.user_id = $2::uuid OR c.visitor_id IN (SELECT v.id FROM visitors v WHERE v.verified_user_id = $2::uuid))`;

/** Below every message id: the first page starts after it. */
const NO_MESSAGE = '00000000-0000-0000-0000-000000000000';

/**
 * A page of a document's messages after `$3` up to `$4`, oldest first: at most `$5`, cut once
 * their text passes `$6` bytes (the first is always taken). Only the messages kept are written out.
 */
const PAGE_STATEMENT = `SELECT m.id, ${MESSAGE_JSON} AS item
  FROM (SELECT m.*, row_number() OVER w AS n, sum(octet_length(m.content)) OVER w AS running
          FROM messages m
         WHERE m.conversation_id = $1::uuid AND m.user_id = $2::uuid AND m.id > $3::uuid AND m.id <= $4::uuid
        WINDOW w AS (ORDER BY m.id ROWS UNBOUNDED PRECEDING)
         ORDER BY m.id LIMIT $5::int) m
 WHERE m.n = 1 OR m.running <= $6::bigint
 ORDER BY m.id`;

export function createExportsRepo(access: ExportAccess): ExportsRepo {
  return {
    async chatbots(ownerId, chatbotId) {
      const rows = await access.user(ownerId, (sql) =>
        chatbotId === null
          ? sql.query<{ id: string; collect: unknown }>('SELECT id, collect FROM chatbots WHERE user_id = $1::uuid ORDER BY created_at, id', [ownerId])
          : sql.query<{ id: string; collect: unknown }>('SELECT id, collect FROM chatbots WHERE user_id = $1::uuid AND id = $2::uuid', [ownerId, chatbotId]),
      );
      return rows.map((row) => ({ id: row.id, ownerId, collect: row.collect }));
    },
    async findChatbot(chatbotId) {
      const [row] = await access.admin((sql) =>
        sql.query<{ id: string; user_id: string; collect: unknown }>('SELECT id, user_id, collect FROM chatbots WHERE id = $1::uuid', [chatbotId]),
      );
      return row && { id: row.id, ownerId: row.user_id, collect: row.collect };
    },
    async count(ownerId, filter) {
      const { text, params } = where(ownerId, filter, null);
      const [row] = await access.user(ownerId, (sql) => sql.query<{ n: string | number }>(`SELECT count(*) AS n FROM conversations c WHERE ${text}`, params));
      return Number(row?.n ?? 0);
    },
    async documents(ownerId, request) {
      const { text, params } = where(ownerId, request.filter, request.after);
      const maxBytes = `$${params.length + 2}`;
      // A conversation past the budget is always alone in its batch (the first is always taken, and nothing after it fits).
      const select = `CASE WHEN c.bytes <= ${maxBytes}::bigint THEN ${DOCUMENT_JSON} END AS document`;
      const statement = batchStatement(select, text, request.limit, `$${params.length + 1}`, { of: MESSAGES_BYTES, max: maxBytes });
      const rows = await access.user(ownerId, (sql) => sql.query<BatchRow & { document: string | null }>(statement, [...params, request.maxMessages, request.maxBytes]));
      const only = rows.length === 1 && rows[0]!.document === null ? rows[0]!.id : null;
      const batch = { rows: only ? [] : rows.map((row) => row.document!), next: nextCursor(rows, request.limit), paged: only };
      release(rows);
      return batch;
    },
    async csvRecords(ownerId, request, keys) {
      const { text, params } = where(ownerId, request.filter, request.after);
      const weight = { of: DATA_BYTES, max: `$${params.length + 3}` };
      const statement = batchStatement(csvColumns(`$${params.length + 2}`), text, request.limit, `$${params.length + 1}`, weight);
      const rows = await access.user(ownerId, (sql) => sql.query<BatchRow & CsvRecord>(statement, [...params, request.maxMessages, JSON.stringify(keys), request.maxBytes]));
      const batch = { rows: rows.slice(), next: nextCursor(rows, request.limit) };
      release(rows);
      return batch;
    },
    async documentStart(userId, conversationId, maxBytes) {
      const [row] = await access.user(userId, (sql) =>
        sql.query<{ owner_id: string; whole: string | null; head: string | null; tail: string | null; last_id: string | null; messages: number }>(START_STATEMENT, [conversationId, userId, maxBytes]),
      );
      if (!row) return undefined;
      return { ownerId: row.owner_id, whole: row.whole, head: row.head ?? '', tail: row.tail ?? '', lastMessageId: row.last_id, messages: Number(row.messages) };
    },
    async messagePage(userId, request) {
      const rows = await access.user(userId, (sql) =>
        sql.query<{ id: string; item: string }>(PAGE_STATEMENT, [request.conversationId, request.ownerId, request.after ?? NO_MESSAGE, request.last, request.maxMessages, request.maxBytes]),
      );
      const page = { items: rows.map((row) => row.item), lastId: rows[rows.length - 1]?.id ?? null };
      release(rows);
      return page;
    },
  };
}
