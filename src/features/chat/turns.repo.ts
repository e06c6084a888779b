// The SQL of one chat turn, written to keep round trips few: a turn is begin (lock the
// conversation, store the user message, read the chatbot with its owner's profile, the history
// and knowledge) and finish (store the reply, release the lock). Each statement names its user
// for row security with a gate (db/scope.ts) rather than a transaction of its own: no extra
// round trip.
import type { SqlRunner } from '../../db/client.js';
import { scopeGate, userGate } from '../../db/scope.js';
import { knowledgeSearchSql } from '../knowledge/knowledge.repo.js';
import type { MessageFields } from '../conversations/conversations.schemas.js';
import type { ProfileFields } from '../profiles/profiles.schemas.js';

/** A stored reply as SQL returns it (snake_case). */
export interface ReplyRow {
  id: string;
  content: string;
  status: StoredReply['status'];
  created_at: Date | string;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  latency_ms: number | null;
  error_code: string | null;
  feedback_rating: 'like' | 'dislike' | null;
  feedback_comment: string | null;
}

export function replyFields(row: ReplyRow): MessageFields {
  return {
    id: row.id,
    role: 'assistant',
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
}

export interface TurnTarget {
  /** Null for a turn that stores no conversation (answers.repo.ts). */
  conversationId: string | null;
  chatbotId: string;
  title: string | null;
  context: string | null;
  systemPrompt: string;
  greeting: string;
  model: string;
  temperature: number | null;
  maxTokens: number | null;
  knowledgeChunks: number;
  useProfile: boolean;
  /** The owner's profile when the chatbot uses it and the owner wrote one (§4), else null. */
  profile: ProfileFields | null;
}

export type HistoryMessage = {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'interrupted' | 'failed';
  tokens: number;
}

export interface StoredReply {
  id: string;
  content: string;
  status: 'complete' | 'interrupted' | 'failed';
  tokens: number;
  model: string;
  promptTokens: number | null;
  completionTokens: number | null;
  latencyMs: number | null;
  errorCode: string | null;
  /** The reply this one replaces (regenerate). */
  replaces: string | null;
  /** The conversation's chatbot, whose usage the reply adds to. */
  chatbotId: string;
}

export interface KnowledgeCandidate {
  content: string;
  tokens: number;
  rank: number;
}

export interface TurnStart {
  state: 'started';
  target: TurnTarget;
  /** Newest first, within the history bound; the new user message is not among them. */
  history: HistoryMessage[];
  /** Best knowledge chunks for the message, best first. */
  knowledge: KnowledgeCandidate[];
}

/** Why a turn could not start: another reply runs, no such conversation (for this caller), or the chatbot's month is spent. */
export type TurnRefused = { state: 'busy' | 'missing' } | { state: 'quota'; budget: number; spent: number };

export interface BeginRequest {
  /**
   * Whose conversation, within the owner's tenant (api-keys/end-user.ts audienceOf): a public
   * visitor's (only on a chatbot still public) or a key's end user's. Null: the account's own.
   */
  audience: { id: string; visitor: boolean } | null;
  lock: { replyId: string; leaseMs: number };
  /** The user message to store; null to answer the last one again (regenerate). */
  message: { id: string; content: string; tokens: number; title: string | null } | null;
  /** Upper bound for the history read (message overhead included). */
  historyTokens: number;
  /** The newest messages read whatever their size (regenerate needs the message it answers). */
  historyMinRows: number;
  /** A tsquery literal for the knowledge search, or null for none. */
  knowledgeQuery: string | null;
  knowledgeLimit: number;
}

export interface TurnsRepo {
  /**
   * One statement: locks the conversation, stores the user message, and reads the chatbot,
   * the history and the best knowledge chunks. When it cannot start, a second statement says
   * why; should the reply that held the conversation have ended in between, it tries again.
   */
  begin(userId: string, conversationId: string, request: BeginRequest, now: Date): Promise<TurnStart | TurnRefused>;
  /** Stores the reply and releases the lock; null when the conversation is gone. */
  finish(userId: string, conversationId: string, reply: StoredReply, now: Date): Promise<MessageFields | null>;
  /** Extends the lock of a reply still being generated. */
  renew(userId: string, conversationId: string, replyId: string, leaseMs: number): Promise<void>;
  /** Asks whichever instance generates this conversation's reply to stop; false when none is running. */
  requestStop(userId: string, conversationId: string): Promise<boolean>;
  /** Of these running replies, the ones someone asked to stop. */
  stopsRequested(replyIds: string[]): Promise<string[]>;
  /** Releases the lock without storing anything. */
  release(userId: string, conversationId: string, replyId: string): Promise<void>;
  /**
   * Takes back a begin() whose answer was lost (the connection dropped): while its lock still
   * holds, removes its user message (and the title it gave an untitled conversation) and frees
   * the conversation. Does nothing when that begin never happened.
   */
  undoBegin(userId: string, conversationId: string, started: { replyId: string; messageId: string | null; title: string | null }): Promise<void>;
}

const HISTORY_ROWS = 500;
/**
 * A running instance ends a stopped reply within its stop poll (0.5 s). A turn that does not end
 * by then has nobody running it (a crashed instance, a lost turn): its lock lapses after this.
 */
export const STOP_HONOURED_WITHIN_MS = 5_000;

type TargetRow = {
  history: unknown;
  knowledge: unknown;
  id: string;
  chatbot_id: string;
  title: string | null;
  context: string | null;
  system_prompt: string;
  greeting: string;
  model: string;
  temperature: number | null;
  max_tokens: number | null;
  knowledge_chunks: number;
  use_profile: boolean;
  profile: unknown;
}

/** json columns arrive parsed from postgres.js and PGlite alike, but be sure. */
const parseJson = <T>(value: unknown): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;

const toTarget = (row: TargetRow): TurnTarget => ({
  conversationId: row.id,
  chatbotId: row.chatbot_id,
  title: row.title,
  context: row.context,
  systemPrompt: row.system_prompt,
  greeting: row.greeting,
  model: row.model,
  temperature: row.temperature === null ? null : Number(row.temperature),
  maxTokens: row.max_tokens === null ? null : Number(row.max_tokens),
  knowledgeChunks: Number(row.knowledge_chunks),
  useProfile: row.use_profile,
  profile: row.profile === null ? null : parseJson<ProfileFields>(row.profile),
});

// The lock and the user message are committed without waiting for the disk: the finish
// statement's durable commit flushes them too, before the client hears back. One fsync per turn.
// History and knowledge read the snapshot from before the insert, so the new message is not in it.
// The lock is taken only when the turn may start: the conversation is the caller's (an account's
// own, or a visitor's own on a chatbot still public) and the chatbot's month is not spent (asked
// only of a chatbot with a budget). Its chatbot's row comes back with the lock; the owner's
// profile joins only when the chatbot uses it. Why a turn could not start is asked afterwards
// (refusalSql), off the path of the turns that do.
function beginSql(options: { withMessage: boolean; audience: 'account' | 'visitor' | 'endUser' }): string {
  const { withMessage } = options;
  const visitor = options.audience === 'visitor';
  const bump = withMessage ? `message_count = message_count + 1, ${visitor ? 'unread_count = unread_count + 1, ' : ''}title = COALESCE(title, $6),` : '';
  const insert = withMessage
    ? `, m AS (
  INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at)
  SELECT $7::uuid, c.id, $2, 'user', $8::text, 'complete', $9::int, $5::timestamptz FROM c
)`
    : // Keeps the parameter list the same shape for both variants.
      `, unused AS (SELECT $6::text, $7::uuid, $8::text, $9::int)`;
  // A visitor seen again: last_seen moves at most once a minute, not with every message.
  const seen = visitor && withMessage
    ? `, v AS (
  UPDATE visitors SET last_seen = $5 WHERE id = $15::text AND last_seen < $5::timestamptz - interval '1 minute' AND EXISTS (SELECT 1 FROM c)
)`
    : '';
  const whose = { account: 'u.visitor_id IS NULL', visitor: 'u.visitor_id = $15::text AND b.is_public', endUser: 'u.visitor_id = $15::text' }[options.audience];
  return `
WITH s AS (SELECT set_config('synchronous_commit', 'off', true) AS sync),
c AS (
  UPDATE conversations u
     SET busy_reply_id = $3, stop_reply_id = NULL, busy_text = NULL, busy_until = now() + $4::int * interval '1 millisecond', ${bump} updated_at = $5
    FROM chatbots b
   WHERE u.id = $1 AND u.user_id = $2 AND b.id = u.chatbot_id AND ${whose}
     AND (u.busy_until IS NULL OR u.busy_until < now())
     AND (b.token_budget_monthly IS NULL OR budget_spent(b.id, $14::date) < b.token_budget_monthly)
  RETURNING u.id, u.chatbot_id, u.title, u.context, b.user_id AS owner_id, b.system_prompt, b.greeting, b.model,
            b.temperature, b.max_tokens, b.knowledge_chunks, b.use_profile
)${insert}${seen},
h AS (
  SELECT id, role, content, status, tokens FROM (
    SELECT id, role, content, status, tokens, sum(tokens + 3) OVER (ORDER BY id DESC) AS running,
           row_number() OVER (ORDER BY id DESC) AS rn
      FROM (SELECT id, role, content, status, tokens FROM messages
             WHERE conversation_id = $1 AND user_id = $2 AND EXISTS (SELECT 1 FROM c)
             ORDER BY id DESC LIMIT ${HISTORY_ROWS}) recent
  ) budgeted
   WHERE running <= $10::int OR rn <= $13::int
),
k AS (
  ${knowledgeSearchSql({ chatbotId: '(SELECT chatbot_id FROM c)', userId: '$2', query: '$11', limit: '$12' })}
),
t AS (
  SELECT c.*,
         ${PROFILE_JSON} AS profile,
         (SELECT coalesce(json_agg(json_build_object('id', h.id, 'role', h.role, 'content', h.content, 'status', h.status, 'tokens', h.tokens)
                                   ORDER BY h.id DESC), '[]'::json) FROM h) AS history,
         ${KNOWLEDGE_JSON} AS knowledge
    FROM c LEFT JOIN profiles p ON c.use_profile AND p.user_id = c.owner_id
           CROSS JOIN s
)
SELECT t.* FROM (SELECT 1) AS one LEFT JOIN t ON true
 WHERE ${userGate('$2')}`;
}

/** The owner's profile (joined as `p`) as one JSON value, null when they wrote none. Shared with answers.repo.ts. */
export const PROFILE_JSON = `CASE WHEN p.user_id IS NULL THEN NULL
              ELSE json_build_object('name', p.name, 'location', p.location, 'bio', p.bio, 'skills', p.skills,
                                     'experience', p.experience, 'interests', p.interests) END`;
/** The knowledge chunks found (CTE `k`), best first, as one JSON array. */
export const KNOWLEDGE_JSON = `(SELECT coalesce(json_agg(json_build_object('content', k.content, 'tokens', k.tokens, 'rank', k.rank)
                                   ORDER BY k.rank DESC), '[]'::json) FROM k)`;

/** Why begin() took no lock: the conversation (as that caller sees it), whether a reply holds it, and the chatbot's month. */
const REFUSAL = `
SELECT u.busy_until IS NOT NULL AND u.busy_until >= now() AS busy, b.token_budget_monthly AS budget,
       CASE WHEN b.token_budget_monthly IS NULL THEN 0 ELSE budget_spent(b.id, $4::date) END AS spent
  FROM conversations u JOIN chatbots b ON b.id = u.chatbot_id
 WHERE u.id = $1 AND u.user_id = $2 AND u.visitor_id IS NOT DISTINCT FROM $3::text AND (NOT $5::boolean OR b.is_public)
   AND ${userGate('$2')}`;

const BEGIN = {
  account: { message: beginSql({ withMessage: true, audience: 'account' }), only: beginSql({ withMessage: false, audience: 'account' }) },
  visitor: { message: beginSql({ withMessage: true, audience: 'visitor' }), only: beginSql({ withMessage: false, audience: 'visitor' }) },
  endUser: { message: beginSql({ withMessage: true, audience: 'endUser' }), only: beginSql({ withMessage: false, audience: 'endUser' }) },
};
/** begin() tries again this many times when the reply that held the conversation ended just before it was asked why. */
const BEGIN_ATTEMPTS = 3;


/** Shards of a chatbot's daily usage row (migrations/0009): concurrent finishes rarely share one. */
const USAGE_SHARDS = 8;

// The reply counts in its chatbot's usage for the day (UTC) in the same statement (add_usage,
// migrations/0010): a turn's accounting costs no round trip, and the budget check in begin reads
// what finishes wrote.
const FINISH = `
WITH d AS (
  DELETE FROM messages WHERE id = $13::uuid AND conversation_id = $2 AND user_id = $3 AND role = 'assistant' RETURNING 1
), r AS (
  INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, model,
                        prompt_tokens, completion_tokens, latency_ms, error_code, created_at)
  SELECT $1::uuid, c.id, c.user_id, 'assistant', $4::text, $5::text, $6::int, $7::text, $8::int, $9::int, $10::int, $11::text, $12::timestamptz
    FROM conversations c WHERE c.id = $2 AND c.user_id = $3
  RETURNING id, content, status, created_at, prompt_tokens, completion_tokens, latency_ms, error_code
), u AS (
  UPDATE conversations
     SET message_count = message_count + (SELECT count(*) FROM r) - (SELECT count(*) FROM d),
         updated_at = $12,
         busy_reply_id = CASE WHEN busy_reply_id = $1 THEN NULL ELSE busy_reply_id END,
         busy_until = CASE WHEN busy_reply_id = $1 THEN NULL ELSE busy_until END,
         stop_reply_id = CASE WHEN busy_reply_id = $1 THEN NULL ELSE stop_reply_id END,
         busy_text = CASE WHEN busy_reply_id = $1 THEN NULL ELSE busy_text END
   WHERE id = $2 AND user_id = $3
)
SELECT r.*, add_usage($15::uuid, $3::uuid, ($12::timestamptz AT TIME ZONE 'UTC')::date, $14::smallint, $5::text, $8::int, $9::int) AS counted
  FROM r WHERE ${userGate('$3')}`;

// The lock is the proof the begin happened and nothing followed it: only its holder writes here.
const UNDO_BEGIN = `
WITH d AS (
  DELETE FROM messages
   WHERE id = $4::uuid AND conversation_id = $1 AND user_id = $2 AND role = 'user'
     AND EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND user_id = $2 AND busy_reply_id = $3::uuid)
  RETURNING 1
)
UPDATE conversations
   SET message_count = message_count - (SELECT count(*) FROM d),
       title = CASE WHEN message_count - (SELECT count(*) FROM d) = 0 AND title = $5::text THEN NULL ELSE title END,
       busy_reply_id = NULL, busy_until = NULL, stop_reply_id = NULL
 WHERE id = $1 AND user_id = $2 AND busy_reply_id = $3::uuid AND ${userGate('$2')}`;

export function createTurnsRepo(sql: SqlRunner): TurnsRepo {
  return {
    async begin(userId, conversationId, request, now) {
      const { lock, message, audience } = request;
      const monthStart = `${now.toISOString().slice(0, 7)}-01`;
      const shared = [request.historyTokens, request.knowledgeQuery, request.knowledgeLimit, request.historyMinRows, monthStart, ...(audience ? [audience.id] : [])];
      const statements = audience ? (audience.visitor ? BEGIN.visitor : BEGIN.endUser) : BEGIN.account;
      for (let attempt = 1; ; attempt++) {
        const rows = await sql.query<TargetRow>(
          message ? statements.message : statements.only,
          message
            ? [conversationId, userId, lock.replyId, lock.leaseMs, now, message.title, message.id, message.content, message.tokens, ...shared]
            : [conversationId, userId, lock.replyId, lock.leaseMs, now, null, null, null, null, ...shared],
        );
        const row = rows[0];
        if (row && row.id !== null) {
          const history = parseJson<HistoryMessage[]>(row.history).map((m) => ({ ...m, tokens: Number(m.tokens) }));
          const knowledge = parseJson<KnowledgeCandidate[]>(row.knowledge).map((k) => ({ ...k, tokens: Number(k.tokens), rank: Number(k.rank) }));
          return { state: 'started', target: toTarget(row), history, knowledge };
        }
        const [why] = await sql.query<{ busy: boolean; budget: string | number | null; spent: string | number }>(REFUSAL, [conversationId, userId, audience?.id ?? null, monthStart, audience?.visitor ?? false]);
        if (!why) return { state: 'missing' };
        const budget = why.budget === null ? null : Number(why.budget);
        const spent = Number(why.spent);
        if (budget !== null && spent >= budget) return { state: 'quota', budget, spent };
        // Held when begin looked, free by now: the other reply just ended. Try again.
        if (why.busy || attempt >= BEGIN_ATTEMPTS) return { state: 'busy' };
      }
    },
    async finish(userId, conversationId, reply, now) {
      const rows = await sql.query<{
        id: string;
        content: string;
        status: StoredReply['status'];
        created_at: Date | string;
        prompt_tokens: number | null;
        completion_tokens: number | null;
        latency_ms: number | null;
        error_code: string | null;
      }>(FINISH, [
        reply.id,
        conversationId,
        userId,
        reply.content,
        reply.status,
        reply.tokens,
        reply.model,
        reply.promptTokens,
        reply.completionTokens,
        reply.latencyMs,
        reply.errorCode,
        now,
        reply.replaces,
        Math.floor(Math.random() * USAGE_SHARDS),
        reply.chatbotId,
      ]);
      const row = rows[0];
      if (!row) return null;
      return replyFields({ ...row, feedback_rating: null, feedback_comment: null });
    },
    async renew(userId, conversationId, replyId, leaseMs) {
      await sql.query(
        `UPDATE conversations SET busy_until = now() + $4::int * interval '1 millisecond'
          WHERE id = $1 AND user_id = $2 AND busy_reply_id = $3 AND stop_reply_id IS NULL AND ${userGate('$2')}`,
        [conversationId, userId, replyId, leaseMs],
      );
    },
    async requestStop(userId, conversationId) {
      const rows = await sql.query<{ id: string }>(
        `UPDATE conversations SET stop_reply_id = busy_reply_id,
                busy_until = LEAST(busy_until, now() + ${STOP_HONOURED_WITHIN_MS} * interval '1 millisecond')
          WHERE id = $1 AND user_id = $2 AND busy_reply_id IS NOT NULL AND busy_until >= now() AND ${userGate('$2')}
         RETURNING id`,
        [conversationId, userId],
      );
      return rows.length > 0;
    },
    async stopsRequested(replyIds) {
      if (replyIds.length === 0) return [];
      // One query per poll for every reply running here, whoever owns it.
      const rows = await sql.query<{ reply_id: string }>(
        `SELECT stop_reply_id AS reply_id FROM conversations
          WHERE stop_reply_id = ANY(string_to_array($1, ',')::uuid[]) AND stop_reply_id = busy_reply_id AND ${scopeGate('stop-poll')}`,
        [replyIds.join(',')],
      );
      return rows.map((row) => row.reply_id);
    },
    async release(userId, conversationId, replyId) {
      await sql.query(
        `UPDATE conversations SET busy_reply_id = NULL, busy_until = NULL, stop_reply_id = NULL
          WHERE id = $1 AND user_id = $2 AND busy_reply_id = $3 AND ${userGate('$2')}`,
        [conversationId, userId, replyId],
      );
    },
    async undoBegin(userId, conversationId, started) {
      await sql.query(UNDO_BEGIN, [conversationId, userId, started.replyId, started.messageId, started.title]);
    },
  };
}
