// The SQL texts of one chat turn (turns.repo.ts runs them). Each statement names its user for
// row security with a gate (db/scope.ts) rather than a transaction of its own: no extra round trip.
import { userGate } from '../../db/scope.js';
import { knowledgeSearchSql } from '../knowledge/knowledge.repo.js';

const HISTORY_ROWS = 500;
/**
 * Messages the prompt leaves out (prompt.ts): they spend none of the history's budget here, or a
 * failed reply's long partial text pushed every turn before it out of the next prompt; and they
 * are not read (but among the newest a regenerate asks for), so that many of them cost nothing.
 * Of those newest rows, only the reply a regenerate replaces is free: the message it answers is sent.
 */
const UNSENT = `(status = 'failed' OR content = '')`;
/**
 * A running instance ends a stopped reply within its stop poll (0.5 s). A turn that does not end
 * by then has nobody running it (a crashed instance, a lost turn): its lock lapses after this.
 */
export const STOP_HONOURED_WITHIN_MS = 5_000;

// The lock changes no indexed column (updated_at, which the listing indexes hold, moves when the
// reply is stored), so PostgreSQL updates the row in place (HOT) where its page has room
// (migrations/0016): no new entry in each of the conversation's indexes at every turn's start.
// The lock and the user message are committed without waiting for the disk: the finish
// statement's durable commit flushes them too, before the client hears back. One fsync per turn.
// History and knowledge read the snapshot from before the insert, so the new message is not in it.
// The lock is taken only when the turn may start: the conversation is the caller's (an account's
// own, or a visitor's own on a chatbot still public), no reply holds it (a hold that lapsed is
// first stored as cut short: REFUSAL), and the chatbot's month is not spent (asked only of a
// chatbot with a budget). Its chatbot's row comes back with the lock; the owner's
// profile joins only when the chatbot uses it. Why a turn could not start is asked afterwards
// (refusalSql), off the path of the turns that do.
function beginSql(options: { withMessage: boolean; audience: 'account' | 'visitor' | 'endUser' }): string {
  const { withMessage } = options;
  const visitor = options.audience === 'visitor';
  // The message's own context follows the parameters every variant has ($16 is the audience's id).
  const context = options.audience === 'account' ? '$16' : '$17';
  // A visitor's or an API key's end user's message waits for the owner in the inbox.
  const unread = options.audience === 'account' ? '' : 'unread_count = unread_count + 1, ';
  const bump = withMessage ? `, message_count = message_count + 1, ${unread}title = COALESCE(title, $6)` : '';
  const insert = withMessage
    ? `, m AS (
  INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, created_at, context)
  SELECT $7::uuid, c.id, $2, 'user', $8::text, 'complete', $9::int, $5::timestamptz, ${context}::text FROM c
)`
    : // Keeps the parameter list the same shape for both variants.
      `, unused AS (SELECT $5::timestamptz, $6::text, $7::uuid, $8::text, $9::int, ${context}::text)`;
  // A regenerate answers the last user message with the context it was sent with.
  const withContext = withMessage ? '' : ', context';
  // A visitor seen again: last_seen moves at most once a minute, not with every message.
  const seen = visitor && withMessage
    ? `, v AS (
  UPDATE visitors SET last_seen = $5 WHERE id = $16::text AND last_seen < $5::timestamptz - interval '1 minute' AND EXISTS (SELECT 1 FROM c)
)`
    : '';
  const whose = { account: 'u.visitor_id IS NULL', visitor: 'u.visitor_id = $16::text AND b.is_public', endUser: 'u.visitor_id = $16::text' }[options.audience];
  return `
WITH s AS (SELECT set_config('synchronous_commit', 'off', true) AS sync),
c AS (
  UPDATE conversations u
     SET busy_reply_id = $3, stop_reply_id = NULL, busy_text = NULL, busy_until = now() + $4::int * interval '1 millisecond',
         busy_instance = $15::uuid${bump}
    FROM chatbots b
   WHERE u.id = $1 AND u.user_id = $2 AND b.id = u.chatbot_id AND ${whose}
     AND u.busy_reply_id IS NULL
     AND (b.token_budget_monthly IS NULL OR budget_spent(b.id, $14::date) < b.token_budget_monthly)
  RETURNING u.id, u.chatbot_id, u.title, u.context, b.user_id AS owner_id, b.system_prompt, b.greeting, b.model,
            b.temperature, b.max_tokens, b.knowledge_chunks, b.use_profile, b.collect, u.data, u.collect_state, u.status
)${insert}${seen},
h AS (
  SELECT id, role, content, status, tokens${withContext} FROM (
    SELECT id, role, content, status, tokens${withContext}, rn,
           sum(CASE WHEN (rn <= $13::int AND role = 'assistant') OR ${UNSENT} THEN 0 ELSE tokens + 3 END) OVER (ORDER BY id DESC) AS running
      FROM (SELECT id, role, content, status, tokens${withContext}, row_number() OVER (ORDER BY id DESC) AS rn
              FROM (SELECT id, role, content, status, tokens${withContext} FROM messages
                     WHERE conversation_id = $1 AND user_id = $2 AND EXISTS (SELECT 1 FROM c)
                     ORDER BY id DESC LIMIT ${HISTORY_ROWS}) newest) recent
  ) budgeted
   WHERE (running <= $10::int AND NOT ${UNSENT}) OR rn <= $13::int
),
k AS (
  ${knowledgeSearchSql({ chatbotId: '(SELECT chatbot_id FROM c)', terms: '$11', chunks: '(SELECT knowledge_chunks FROM c)', limit: '$12', onlyIf: '(SELECT knowledge_chunks FROM c) > 0' })}
),
t AS (
  SELECT c.*,
         ${PROFILE_JSON} AS profile,
         (SELECT coalesce(json_agg(json_build_object('id', h.id, 'role', h.role, 'content', h.content, 'status', h.status, 'tokens', h.tokens${withContext ? ", 'context', h.context" : ''})
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
/** The knowledge chunks found (CTE `k`), best first, with their documents' titles, as one JSON array. */
export const KNOWLEDGE_JSON = `(SELECT coalesce(json_agg(json_build_object('content', k.content, 'tokens', k.tokens, 'rank', k.rank, 'title', k.title)
                                   ORDER BY k.rank DESC), '[]'::json) FROM k)`;

/**
 * True for a hold (`alias` a conversations row) whose instance stopped saying it is alive
 * (migrations/0021, instances.ts): it is lapsed, whatever its lease says. Judged by the instance
 * `watcher` (a uuid expression; NULL judges nothing), and only for a silence as long as the
 * holder's own window during which the watcher itself kept saying it was alive: after an outage
 * of the database every instance was silent, and none is taken for gone as it comes back.
 */
export const holderGone = (alias: string, watcher: string) =>
  `EXISTS (SELECT 1 FROM instances i JOIN instances w ON w.id = ${watcher}
            WHERE i.id = ${alias}.busy_instance AND i.id <> w.id AND i.gone_after < now()
              AND w.gone_after >= now() AND w.since <= now() - (i.gone_after - i.seen_at))`;

/**
 * Why begin() took no lock: the conversation (as that caller sees it), whether a reply holds it, and the chatbot's month.
 * A hold nobody renewed, or whose instance is gone (`lapsed`: killed, or stopped with the reply unstored), carries the
 * reply's text so far: begin() stores that reply as cut short before the conversation takes the next turn.
 * A hold being ended (`ending`: stopped, or its client left, on whichever instance) lets go once its reply is stored.
 */
export const REFUSAL = `
SELECT u.busy_until IS NOT NULL AND u.busy_until >= now() AND NOT o.gone AS busy,
       u.busy_reply_id IS NOT NULL AND (u.busy_until < now() OR o.gone) AS lapsed, u.busy_reply_id, u.busy_text,
       u.stop_reply_id IS NOT NULL AND u.stop_reply_id = u.busy_reply_id AS ending,
       b.token_budget_monthly AS budget,
       CASE WHEN b.token_budget_monthly IS NULL THEN 0 ELSE budget_spent(b.id, $4::date) END AS spent
  FROM conversations u JOIN chatbots b ON b.id = u.chatbot_id
       CROSS JOIN LATERAL (SELECT ${holderGone('u', '$6::uuid')} AS gone) o
 WHERE u.id = $1 AND u.user_id = $2 AND u.visitor_id IS NOT DISTINCT FROM $3::text AND (NOT $5::boolean OR b.is_public)
   AND ${userGate('$2')}`;

export const BEGIN = {
  account: { message: beginSql({ withMessage: true, audience: 'account' }), only: beginSql({ withMessage: false, audience: 'account' }) },
  visitor: { message: beginSql({ withMessage: true, audience: 'visitor' }), only: beginSql({ withMessage: false, audience: 'visitor' }) },
  endUser: { message: beginSql({ withMessage: true, audience: 'endUser' }), only: beginSql({ withMessage: false, audience: 'endUser' }) },
};
/** begin() tries again this many times when the reply that held the conversation ended just before it was asked why. */
export const BEGIN_ATTEMPTS = 3;


/** Shards of a chatbot's daily usage row (migrations/0009): concurrent finishes rarely share one. */
export const USAGE_SHARDS = 8;

// The reply counts in its chatbot's usage for the day (UTC) in the same statement (add_usage,
// migrations/0010): a turn's accounting costs no round trip, and the budget check in begin reads
// what finishes wrote. A turn that collects (§9) also writes the conversation's data and the
// collector's place, completes the conversation when every required field is valid and, the
// first time it does, queues the `conversation.completed` webhook event: one statement, so the
// event exists exactly when the completion was committed.
// Only a regenerated reply replaces one: an ordinary turn's statement deletes nothing. Given
// `id = NULL`, PostgreSQL costs a scan of every message for a DELETE it never runs, and past
// jit_above_cost compiles the statement with LLVM at each custom plan: ~60 ms a turn measured with
// 500,000 messages, every turn where statements are not prepared (DATABASE_PREPARE=false).
function finishSql(collecting: boolean, replacing: boolean): string {
  // The conversation is locked before the reply it replaces and before the usage row: a deletion
  // takes them in that order (a conversation's row, then its messages by ON DELETE CASCADE; a
  // chatbot's conversations, then its usage rows), and the opposite orders deadlocked with it
  // (test/chat/conversation-delete-deadlocks.test.ts, chatbot-deleted-under-load.test.ts). So the
  // answer reads `u`: add_usage runs once the conversation's row is updated.
  const replaced = replacing
    ? `DELETE FROM messages WHERE id = $13::uuid AND conversation_id = $2 AND user_id = $3 AND role = 'assistant'
     AND EXISTS (SELECT 1 FROM held) RETURNING 1`
    : // Keeps the parameter list the same shape for both variants; never a row.
      `SELECT 1 WHERE $13::uuid IS NOT NULL AND false`;
  // The data is written only over what the turn began from ($20). A turn whose hold lapsed while
  // the model answered ends after the turn that took the conversation, and its data, read before
  // that one collected anything, undid it: a conversation it completed kept `completed` while the
  // value that completed it was gone. The late turn's reply is still stored.
  const unchanged = (data: string) => `coalesce(${data}, '{}'::jsonb) = $20::jsonb`;
  const collected = collecting
    ? `,
         data = CASE WHEN ${unchanged('data')} THEN $16::jsonb ELSE data END,
         collect_state = CASE WHEN ${unchanged('data')} THEN $17::jsonb ELSE collect_state END,
         status = CASE WHEN $18::boolean AND ${unchanged('data')} THEN 'completed' ELSE status END`
    : '';
  // Every CTE reads the snapshot from before the statement: `was` is the status before this turn.
  // `completed_at` is written as the API writes times (§2): a timestamptz in jsonb takes the
  // session's time zone ("+06:00" on a database set up in Dhaka).
  // What the client is told the turn collected is the row as the statement left it (`u`), and the
  // event is queued only for a completion this turn stored: a late turn's write, refused above,
  // announces nothing. `u` reads the newest version of the row (it waits for a newer turn's finish
  // that holds it), `was` the snapshot: the data `u` stored must be this turn's too.
  const was = collecting
    ? `, was AS (
  SELECT status, visitor_id, data FROM conversations WHERE id = $2 AND user_id = $3
)`
    : '';
  const event = collecting
    ? `, w AS (
  INSERT INTO webhook_deliveries (id, user_id, chatbot_id, conversation_id, type, payload, created_at, next_attempt_at)
  SELECT $19::uuid, $3::uuid, b.id, $2::uuid, 'conversation.completed',
         jsonb_build_object('conversation_id', $2::uuid, 'chatbot_id', b.id, 'data', $16::jsonb,
                            'completed_at', to_char($12::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                            'visitor', CASE WHEN v.id IS NULL THEN NULL ELSE jsonb_build_object('visitor_id', v.visitor_id, 'name', v.name) END),
         $12::timestamptz, $12::timestamptz
    FROM was CROSS JOIN u JOIN chatbots b ON b.id = $15::uuid LEFT JOIN visitors v ON v.id = was.visitor_id
   WHERE $18::boolean AND was.status <> 'completed' AND ${unchanged('was.data')} AND u.collected_data = $16::jsonb
     AND u.conversation_status = 'completed' AND b.webhook_url IS NOT NULL AND b.webhook_enabled
)`
    : '';
  const stored = collecting ? ', data AS collected_data, status AS conversation_status' : '';
  const told = collecting ? "u.collected_data, u.conversation_status = 'completed' AS collected_completed, " : '';
  const held = replacing ? `held AS (
  SELECT 1 FROM conversations WHERE id = $2 AND user_id = $3 FOR UPDATE
), ` : '';
  return `
WITH ${held}d AS (
  ${replaced}
), r AS (
  INSERT INTO messages (id, conversation_id, user_id, role, content, status, tokens, model,
                        prompt_tokens, completion_tokens, latency_ms, error_code, created_at)
  SELECT $1::uuid, c.id, c.user_id, 'assistant', $4::text, $5::text, $6::int, $7::text, $8::int, $9::int, $10::int, $11::text, $12::timestamptz
    FROM conversations c WHERE c.id = $2 AND c.user_id = $3
  RETURNING id, content, status, created_at, prompt_tokens, completion_tokens, latency_ms, error_code
)${was}, u AS (
  UPDATE conversations
     SET message_count = message_count + (SELECT count(*) FROM r) - (SELECT count(*) FROM d),
         updated_at = $12,
         busy_reply_id = CASE WHEN busy_reply_id = $1 THEN NULL ELSE busy_reply_id END,
         busy_until = CASE WHEN busy_reply_id = $1 THEN NULL ELSE busy_until END,
         stop_reply_id = CASE WHEN busy_reply_id = $1 THEN NULL ELSE stop_reply_id END,
         busy_text = CASE WHEN busy_reply_id = $1 THEN NULL ELSE busy_text END${collected}
   WHERE id = $2 AND user_id = $3
  RETURNING 1${stored}
)${event}
SELECT r.*, ${told}add_usage($15::uuid, $3::uuid, ($12::timestamptz AT TIME ZONE 'UTC')::date, $14::smallint, $5::text, $8::int, $9::int) AS counted
  FROM r CROSS JOIN u WHERE ${userGate('$3')}`;
}

const FINISHES = [finishSql(false, false), finishSql(false, true), finishSql(true, false), finishSql(true, true)] as const;
/** An ordinary turn's finish (nothing replaced, nothing collected). */
export const FINISH = FINISHES[0];
export const finishStatement = (options: { collecting: boolean; replacing: boolean }) => FINISHES[(options.collecting ? 2 : 0) + (options.replacing ? 1 : 0)]!;

// The lock is the proof the begin happened and nothing followed it: only its holder writes here.
// The conversation is locked before its message, as a deletion of the conversation takes them
// (test/chat/conversation-delete-deadlocks.test.ts; finishSql says why).
export const UNDO_BEGIN = `
WITH held AS (
  SELECT 1 FROM conversations WHERE id = $1 AND user_id = $2 AND busy_reply_id = $3::uuid FOR UPDATE
), d AS (
  DELETE FROM messages
   WHERE id = $4::uuid AND conversation_id = $1 AND user_id = $2 AND role = 'user'
     AND EXISTS (SELECT 1 FROM held)
  RETURNING 1
)
UPDATE conversations
   SET message_count = message_count - (SELECT count(*) FROM d),
       title = CASE WHEN message_count - (SELECT count(*) FROM d) = 0 AND title = $5::text THEN NULL ELSE title END,
       busy_reply_id = NULL, busy_until = NULL, stop_reply_id = NULL
 WHERE id = $1 AND user_id = $2 AND busy_reply_id = $3::uuid AND ${userGate('$2')}`;

// A reply a sweep stored as cut short (cut-turns.ts) while its turn was in fact still running:
// taken out, in the transaction whose finish then stores the turn's own reply under its id. The
// conversation is locked first, as in UNDO_BEGIN.
export const WITHDRAW_CUT_REPLY = `
WITH held AS (
  SELECT 1 FROM conversations WHERE id = $2 AND user_id = $3 FOR UPDATE
), d AS (
  DELETE FROM messages
   WHERE id = $1::uuid AND conversation_id = $2 AND user_id = $3 AND role = 'assistant' AND error_code = 'server_stopped'
     AND EXISTS (SELECT 1 FROM held)
  RETURNING id
), u AS (
  UPDATE conversations SET message_count = message_count - 1 WHERE id = $2 AND user_id = $3 AND EXISTS (SELECT 1 FROM d)
)
SELECT d.id FROM d WHERE ${userGate('$3')}`;
