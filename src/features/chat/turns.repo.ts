// The SQL of one chat turn, written to keep round trips few: a turn is begin (lock the
// conversation, store the user message, read the chatbot with its owner's profile, the history
// and knowledge) and finish (store the reply, release the lock). The statements are in
// turns.sql.ts, the shapes in turns.types.ts.
import type { SqlRunner } from '../../db/client.js';
import { RETRY_DEADLOCKS } from '../../db/deadlocks.js';
import { constraintName, isUniqueViolation } from '../../db/errors.js';
import { scopeGate, userGate } from '../../db/scope.js';
import type { Collect } from '../collection/collect-schema.js';
import type { CollectState } from '../collection/collect-state.js';
import type { ProfileFields } from '../profiles/profiles.schemas.js';
import { countTokens } from '../../llm/tokens.js';
import { STORE_CUT_TURN } from './cut-turns.js';
import { BEGIN, BEGIN_ATTEMPTS, finishStatement, REFUSAL, STOP_HONOURED_WITHIN_MS, UNDO_BEGIN, USAGE_SHARDS, WITHDRAW_CUT_REPLY } from './turns.sql.js';
import { replyFields, type BeginRequest, type HistoryMessage, type KnowledgeCandidate, type ReplyRow, type StoredReply, type TurnsRepo, type TurnTarget } from './turns.types.js';

export { STOP_HONOURED_WITHIN_MS } from './turns.sql.js';

/** Stop requests read per poll: far more than are ever pending at once. */
const STOP_POLL_ROWS = 1000;
/** A deleted conversation's stop is polled twice a second by every instance; kept well past that. */
const REPLY_STOPS_KEPT_MS = 120_000;
export type * from './turns.types.js';
export { replyFields } from './turns.types.js';

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
  collect: unknown;
  data: unknown;
  collect_state: unknown;
  status: 'active' | 'completed';
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
  collect: row.collect === null ? null : parseJson<Collect>(row.collect),
  data: row.data === null ? {} : parseJson<Record<string, unknown>>(row.data),
  collectState: row.collect_state === null ? null : parseJson<CollectState>(row.collect_state),
  completed: row.status === 'completed',
});

/** The finish statement's parameters, in turns.sql.ts's order. */
function finishParams(userId: string, conversationId: string, reply: StoredReply, now: Date): unknown[] {
  return [
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
    ...(reply.collect
      ? [JSON.stringify(reply.collect.data), JSON.stringify(reply.collect.state), reply.collect.completed, reply.collect.eventId, JSON.stringify(reply.collect.base)]
      : []),
  ];
}

type Refusal = { busy: boolean; lapsed: boolean; ending: boolean | null; busy_reply_id: string | null; busy_text: string | null; budget: string | number | null; spent: string | number };

/** The reply of a lapsed hold, stored as the cut-turns sweep stores it (only while that hold is still there). */
async function storeLapsedReply(sql: SqlRunner, userId: string, conversationId: string, replyId: string, text: string, now: Date): Promise<void> {
  const status = text === '' ? 'failed' : 'interrupted';
  const tokens = text === '' ? 0 : countTokens(text);
  await sql.transaction(async (tx) => {
    await tx.query(`SELECT ${userGate('$1')} AS entered`, [userId]);
    await tx.query(STORE_CUT_TURN, [conversationId, replyId, userId, text, status, tokens, now.toISOString()]);
  });
}

/** begin's parameters after the message's own ($10 on): history and knowledge asked for, the audience, the message's context. */
function sharedBeginParams(request: BeginRequest, monthStart: string, instance: string | null): unknown[] {
  const { audience, message } = request;
  return [request.historyTokens, request.knowledgeQuery, request.knowledgeLimit, request.historyMinRows, monthStart, instance, ...(audience ? [audience.id] : []), message?.context ?? null];
}

/** A turn's two round trips when all goes well: its start and its finish. */
function createTurnBeginFinish(sql: SqlRunner, instance: string | null): Pick<TurnsRepo, 'begin' | 'finish'> {
  return {
    async begin(userId, conversationId, request, now) {
      const { lock, message, audience } = request;
      const monthStart = `${now.toISOString().slice(0, 7)}-01`;
      const shared = sharedBeginParams(request, monthStart, instance);
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
        const [why] = await sql.query<Refusal>(REFUSAL, [conversationId, userId, audience?.id ?? null, monthStart, audience?.visitor ?? false, instance]);
        if (!why) return { state: 'missing' };
        // A reply nobody renewed holds it (its instance was killed): that reply is stored first,
        // with its text so far, as the cut-turns sweep would have; then this turn takes the conversation.
        if (why.lapsed && why.busy_reply_id && attempt < BEGIN_ATTEMPTS) {
          await storeLapsedReply(sql, userId, conversationId, why.busy_reply_id, why.busy_text ?? '', now);
          continue;
        }
        const budget = why.budget === null ? null : Number(why.budget);
        const spent = Number(why.spent);
        if (budget !== null && spent >= budget) return { state: 'quota', budget, spent };
        // Held when begin looked, free by now: the other reply just ended. Try again.
        if (why.busy || attempt >= BEGIN_ATTEMPTS) return { state: 'busy', ending: why.busy && why.ending ? why.busy_reply_id : null };
      }
    },
    async finish(userId, conversationId, reply, now) {
      const statement = finishStatement({ collecting: Boolean(reply.collect), replacing: reply.replaces != null });
      const params = finishParams(userId, conversationId, reply, now);
      // A new reply has no feedback yet: the statement returns the rest of its row, and for a
      // turn that collects, the conversation's data and completion as it left them.
      type Row = Omit<ReplyRow, 'feedback_rating' | 'feedback_comment'> & { collected_data?: unknown; collected_completed?: boolean };
      let rows: Row[];
      try {
        rows = await sql.query<Row>(statement, params);
      } catch (error) {
        if (!(isUniqueViolation(error) && constraintName(error) === 'messages_pkey')) throw error;
        // The hold lapsed while this turn ran, and a sweep stored its reply as cut short: this
        // one, the turn's own, takes that place. Off the path of every other turn.
        rows = await sql.transaction(async (tx) => {
          await tx.query<{ id: string }>(WITHDRAW_CUT_REPLY, [reply.id, conversationId, userId]);
          // Nothing withdrawn: the conversation was deleted meanwhile (the statement then stores
          // nothing, as for any turn whose conversation went), or the id is another reply's (it
          // fails again, as it did).
          return tx.query<Row>(statement, params);
        }, RETRY_DEADLOCKS);
      }
      const row = rows[0];
      if (!row) return null;
      const collected = reply.collect
        ? { data: row.collected_data == null ? {} : parseJson<Record<string, unknown>>(row.collected_data), completed: row.collected_completed === true }
        : null;
      return { reply: replyFields({ ...row, feedback_rating: null, feedback_comment: null }), collected };
    },
  };
}

/** The conversation's lock between those two: kept while a reply runs long, or ended early (stop, failure, a lost begin). */
function createTurnLocks(sql: SqlRunner): Pick<TurnsRepo, 'renew' | 'requestStop' | 'stopsRequested' | 'forgetReplyStops' | 'release' | 'undoBegin'> {
  return {
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
      // Stop requests are few and short-lived: read the newest (their partial index holds nothing
      // else; ids are time-ordered, so backwards is newest first, whatever the table's statistics)
      // and keep the ones running here. Reply ids are never reused, so one running here is still
      // the conversation's busy reply. Sending every running reply's id instead cost the database
      // 28 ms a poll, twice a second, with 10,000 streams open.
      // A deleted conversation's reply is asked to stop in reply_stops (migrations/0023).
      const rows = await sql.query<{ reply_id: string }>(
        `(SELECT stop_reply_id AS reply_id FROM conversations
           WHERE stop_reply_id IS NOT NULL AND ${scopeGate('stop-poll')}
           ORDER BY stop_reply_id DESC LIMIT ${STOP_POLL_ROWS})
         UNION ALL
         (SELECT reply_id FROM reply_stops ORDER BY reply_id DESC LIMIT ${STOP_POLL_ROWS})`,
        [],
      );
      const here = new Set(replyIds);
      return rows.map((row) => row.reply_id).filter((id) => here.has(id));
    },
    async forgetReplyStops() {
      await sql.query(`DELETE FROM reply_stops WHERE at < now() - ${REPLY_STOPS_KEPT_MS} * interval '1 millisecond'`, []);
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

/** A hold being ended (stopped, or its client left): marked so, and watched until it goes (turn-starts.ts). */
function createEndingHolds(sql: SqlRunner): Pick<TurnsRepo, 'markEnding' | 'holds'> {
  return {
    async markEnding(userId, conversationId, replyId) {
      // The stop poll finds it too, and finds the reply already ended here.
      await sql.query(
        `UPDATE conversations SET stop_reply_id = busy_reply_id
          WHERE id = $1 AND user_id = $2 AND busy_reply_id = $3 AND stop_reply_id IS NULL AND ${userGate('$2')}`,
        [conversationId, userId, replyId],
      );
    },
    async holds(userId, conversationId, replyId) {
      const rows = await sql.query<{ id: string }>(
        `SELECT id FROM conversations
          WHERE id = $1 AND user_id = $2 AND busy_reply_id = $3 AND busy_until >= now() AND ${userGate('$2')}`,
        [conversationId, userId, replyId],
      );
      return rows.length > 0;
    },
  };
}

/** `instance`: this instance's id in `instances` (instances.ts), named on every hold it takes; null where none is kept. */
export function createTurnsRepo(sql: SqlRunner, instance: string | null = null): TurnsRepo {
  return { ...createTurnBeginFinish(sql, instance), ...createTurnLocks(sql), ...createEndingHolds(sql) };
}
