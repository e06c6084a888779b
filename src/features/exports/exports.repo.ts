// What exports read (§9): a chatbot's conversations a batch at a time, walked in (created_at, id)
// order on conversations_export_idx (migrations/0013), each batch with its messages in the same
// transaction, inside the owner's tenant. Keyset batches, not a server-side cursor: PGlite has
// none, and a batch holds no connection while the client reads.
import type { SqlRunner } from '../../db/client.js';
import type { Scoped } from '../../db/scope.js';
import type { ConversationRow } from '../../db/schema.js';
import { toConversation, toMessage, type MessageFields } from '../conversations/conversations.schemas.js';
import type { ExportDocument } from './exports.schemas.js';

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

export interface ExportBatch {
  documents: ExportDocument[];
  /** Where the next batch starts; null when this one was the last. */
  next: ExportCursor | null;
}

export interface ExportsRepo {
  /** The owner's chatbots, oldest first, or only `chatbotId` (none when it is not theirs). */
  chatbots(ownerId: string, chatbotId: string | null): Promise<ExportChatbot[]>;
  /** Any chatbot by id, whoever owns it (admin scope: the CLI). */
  findChatbot(chatbotId: string): Promise<ExportChatbot | undefined>;
  count(ownerId: string, filter: ExportFilter): Promise<number>;
  /**
   * Up to `limit` conversations after `after`, oldest first, with their messages. A batch stops
   * early once it holds `maxMessages` messages (at least one conversation is always taken), so
   * long conversations do not make a batch big.
   */
  batch(ownerId: string, filter: ExportFilter, after: ExportCursor | null, limit: number, maxMessages: number): Promise<ExportBatch>;
  /**
   * One conversation's document: the caller's own, or (accounts) one of their verified visits of
   * another owner's public chatbot (§7), as GET /v1/conversations/{id} reads them.
   */
  document(userId: string, conversationId: string): Promise<ExportDocument | undefined>;
}

// Times as the API writes them (toISOString); the cursor keeps the microseconds.
const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const CONVERSATION_COLUMNS = `c.id, c.user_id, c.chatbot_id, c.title, c.status, c.context, c.message_count, c.data,
       to_char(c.created_at AT TIME ZONE 'UTC', ${ISO_MS}) AS created_at,
       to_char(c.updated_at AT TIME ZONE 'UTC', ${ISO_MS}) AS updated_at,
       to_char(c.created_at AT TIME ZONE 'UTC', ${ISO_US}) AS cursor_at`;
const MESSAGE_COLUMNS = `m.id, m.conversation_id, m.role, m.content, m.status,
       to_char(m.created_at AT TIME ZONE 'UTC', ${ISO_MS}) AS created_at,
       m.prompt_tokens, m.completion_tokens, m.latency_ms, m.error_code, m.feedback_rating, m.feedback_comment`;

type ConversationRecord = {
  id: string;
  user_id: string;
  chatbot_id: string;
  title: string | null;
  status: 'active' | 'completed';
  context: string | null;
  message_count: number;
  data: unknown;
  created_at: string;
  updated_at: string;
  cursor_at: string;
};

type MessageRecord = {
  id: string;
  conversation_id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'interrupted' | 'failed';
  created_at: string;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  latency_ms: number | null;
  error_code: string | null;
  feedback_rating: 'like' | 'dislike' | null;
  feedback_comment: string | null;
};

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function conversationOf(row: ConversationRecord) {
  // toConversation reads only these fields: the shape is the one GET /v1/conversations/{id} answers.
  const fields: Pick<ConversationRow, 'id' | 'chatbotId' | 'title' | 'status' | 'context' | 'messageCount' | 'createdAt' | 'updatedAt'> = {
    id: row.id,
    chatbotId: row.chatbot_id,
    title: row.title,
    status: row.status,
    context: row.context,
    messageCount: Number(row.message_count),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
  return toConversation(fields as ConversationRow);
}

function messageOf(row: MessageRecord) {
  const fields: MessageFields = {
    id: row.id,
    role: row.role,
    content: row.content,
    status: row.status,
    createdAt: new Date(row.created_at),
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    latencyMs: row.latency_ms,
    errorCode: row.error_code,
    feedbackRating: row.feedback_rating,
    feedbackComment: row.feedback_comment,
  };
  return toMessage(fields);
}

/** The conversations' documents, in the conversations' order; messages oldest first (ids are time-ordered, as the API lists them). */
function documentsOf(conversations: ConversationRecord[], messages: MessageRecord[]): ExportDocument[] {
  const byConversation = new Map<string, ExportDocument['messages']>();
  for (const row of messages) {
    let list = byConversation.get(row.conversation_id);
    if (!list) byConversation.set(row.conversation_id, (list = []));
    list.push(messageOf(row));
  }
  return conversations.map((row) => ({
    conversation: conversationOf(row),
    messages: byConversation.get(row.id) ?? [],
    data: isRecord(row.data) ? row.data : {},
  }));
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

const uuidArray = (ids: string[]) => `{${ids.join(',')}}`;

/** The messages of these conversations (all in one tenant), grouped by conversation, oldest first. */
function messagesOf(sql: SqlRunner, tenant: string, ids: string[]): Promise<MessageRecord[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return sql.query<MessageRecord>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = ANY($1::uuid[]) AND m.user_id = $2::uuid ORDER BY m.conversation_id, m.id`,
    [uuidArray(ids), tenant],
  );
}

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
    async batch(ownerId, filter, after, limit, maxMessages) {
      const { text, params } = where(ownerId, filter, after);
      return access.user(ownerId, async (sql) => {
        const rows = await sql.query<ConversationRecord>(
          `SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE ${text} ORDER BY c.created_at, c.id LIMIT ${Number(limit)}`,
          params,
        );
        let taken = 0;
        let messages = 0;
        while (taken < rows.length && (taken === 0 || messages + Number(rows[taken]!.message_count) <= maxMessages)) {
          messages += Number(rows[taken]!.message_count);
          taken++;
        }
        const kept = rows.slice(0, taken);
        const last = kept[kept.length - 1];
        const more = rows.length === limit || taken < rows.length;
        const documents = documentsOf(kept, await messagesOf(sql, ownerId, kept.map((row) => row.id)));
        return { documents, next: more && last ? [last.cursor_at, last.id] : null };
      });
    },
    async document(userId, conversationId) {
      return access.user(userId, async (sql) => {
        // As conversations.repo's find: the user's own, or a verified visit of theirs (migrations/0011).
        const [row] = await sql.query<ConversationRecord>(
          `SELECT ${CONVERSATION_COLUMNS} FROM conversations c
            WHERE c.id = $1::uuid
              AND (c.user_id = $2::uuid OR c.visitor_id IN (SELECT v.id FROM visitors v WHERE v.verified_user_id = $2::uuid))`,
          [conversationId, userId],
        );
        if (!row) return undefined;
        return documentsOf([row], await messagesOf(sql, row.user_id, [row.id]))[0];
      });
    },
  };
}
