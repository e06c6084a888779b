// The SQL of a turn that stores no conversation (the OpenAI endpoint, §8): the client sends the
// conversation, so a turn reads only the chatbot (with its owner's profile and knowledge, and
// whether its month is spent) and, once answered, adds the reply to the chatbot's usage.
import type { SqlRunner } from '../../db/client.js';
import { userGate } from '../../db/scope.js';
import { knowledgeSearchSql } from '../knowledge/knowledge.repo.js';
import type { KeyCheck } from '../auth/principal.js';
import type { ProfileFields } from '../profiles/profiles.schemas.js';
import { KNOWLEDGE_JSON, PROFILE_JSON } from './turns.sql.js';
import type { KnowledgeCandidate, StoredReply, TurnRefused, TurnTarget } from './turns.types.js';
import type { UsageCount } from './usage-buffer.js';

export type AnswerStart =
  /** `budgeted`: the chatbot has a monthly token budget, which the next call's start checks. */
  | { state: 'started'; target: TurnTarget; knowledge: KnowledgeCandidate[]; slug: string; budgeted: boolean }
  | TurnRefused
  /** The caller's key (Principal.keyCheck) is gone, or its owner deactivated. */
  | { state: 'key_refused' };

export interface AnswersRepo {
  /** The chatbot as a turn needs it and the best knowledge for the message; refused when missing or its month is spent. */
  start(userId: string, chatbotId: string, knowledge: { query: string[] | null; limit: number }, now: Date, keyCheck?: KeyCheck | null): Promise<AnswerStart>;
  /** Counts the reply in its chatbot's usage for the day (UTC), as a stored reply is. */
  recordUsage(userId: string, reply: StoredReply, now: Date): Promise<void>;
  /** Adds many replies' usage (usage-buffer.ts) to a chatbot's day at once. */
  addUsage(count: UsageCount): Promise<void>;
}

// A key taken from the recent lookups (Principal.keyCheck) is checked here, in the statement that
// starts the answer, rather than by a read of its own: deleted, or its owner deactivated, and the
// answer is refused (nothing was written). $6/$7: the key's id and hash, null for other callers.
const KEY_STILL_VALID = `($6::uuid IS NULL OR EXISTS (
  SELECT 1 FROM api_keys k JOIN users u ON u.id = k.user_id AND u.is_active
   WHERE k.id = $6::uuid AND k.hash = $7::text AND k.user_id = $2 AND k.chatbot_id = $1))`;

export const ANSWER_START = `
WITH c AS (
  SELECT b.id AS chatbot_id, b.slug, b.user_id AS owner_id, b.system_prompt, b.greeting, b.model, b.temperature, b.max_tokens,
         b.knowledge_chunks, b.use_profile, b.token_budget_monthly IS NOT NULL AS budgeted
    FROM chatbots b
   WHERE b.id = $1 AND b.user_id = $2
     AND (b.token_budget_monthly IS NULL OR budget_spent(b.id, $5::date) < b.token_budget_monthly)
),
k AS (
  ${knowledgeSearchSql({ chatbotId: '(SELECT chatbot_id FROM c)', terms: '$3', chunks: '(SELECT knowledge_chunks FROM c)', limit: '$4', onlyIf: '(SELECT knowledge_chunks FROM c) > 0' })}
),
t AS (
  SELECT c.*,
         ${PROFILE_JSON} AS profile,
         ${KNOWLEDGE_JSON} AS knowledge
    FROM c LEFT JOIN profiles p ON c.use_profile AND p.user_id = c.owner_id
)
SELECT t.*, ${KEY_STILL_VALID} AS key_ok FROM (SELECT 1) AS one LEFT JOIN t ON true
 WHERE ${userGate('$2')}`;

const WHY = `
SELECT b.token_budget_monthly AS budget, CASE WHEN b.token_budget_monthly IS NULL THEN 0 ELSE budget_spent(b.id, $3::date) END AS spent
  FROM chatbots b WHERE b.id = $1 AND b.user_id = $2 AND ${userGate('$2')}`;

/** Shards of a chatbot's daily usage row, as turns.repo.ts spreads them. */
const USAGE_SHARDS = 8;
// Usage alone is not worth waiting for the disk: a crash may lose the last moment's counts, never
// a conversation (there is none). Without this, each call would wait for an fsync of its own.
const USAGE = `
SELECT add_usage($1::uuid, $2::uuid, ($3::timestamptz AT TIME ZONE 'UTC')::date, $4::smallint, $5::text, $6::int, $7::int) AS counted
  FROM (SELECT set_config('synchronous_commit', 'off', true)) AS s
 WHERE ${userGate('$2')}`;

const ADD_USAGE = `
INSERT INTO usage_daily AS g (chatbot_id, user_id, day, shard, messages, prompt_tokens, completion_tokens)
SELECT $1::uuid, $2::uuid, $3::date, $4::smallint, $5::int, $6::int, $7::int
  FROM (SELECT set_config('synchronous_commit', 'off', true)) AS s
 WHERE ${userGate('$2')}
ON CONFLICT (chatbot_id, day, shard) DO UPDATE
   SET messages = g.messages + EXCLUDED.messages, prompt_tokens = g.prompt_tokens + EXCLUDED.prompt_tokens,
       completion_tokens = g.completion_tokens + EXCLUDED.completion_tokens`;

type StartRow = {
  key_ok: boolean;
  budgeted: boolean;
  chatbot_id: string | null;
  slug: string;
  system_prompt: string;
  greeting: string;
  model: string;
  temperature: number | null;
  max_tokens: number | null;
  knowledge_chunks: number;
  use_profile: boolean;
  profile: unknown;
  knowledge: unknown;
};

const parseJson = <T>(value: unknown): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;

export function createAnswersRepo(sql: SqlRunner): AnswersRepo {
  return {
    async start(userId, chatbotId, knowledge, now, keyCheck = null) {
      const monthStart = `${now.toISOString().slice(0, 7)}-01`;
      const [row] = await sql.query<StartRow>(ANSWER_START, [chatbotId, userId, knowledge.query, knowledge.limit, monthStart, keyCheck?.keyId ?? null, keyCheck?.hash ?? null]);
      if (row && !row.key_ok) return { state: 'key_refused' };
      if (!row || row.chatbot_id === null) {
        const [why] = await sql.query<{ budget: string | number | null; spent: string | number }>(WHY, [chatbotId, userId, monthStart]);
        if (!why || why.budget === null) return { state: 'missing' };
        return { state: 'quota', budget: Number(why.budget), spent: Number(why.spent) };
      }
      const target: TurnTarget = {
        conversationId: null,
        chatbotId: row.chatbot_id,
        title: null,
        context: null,
        systemPrompt: row.system_prompt,
        greeting: row.greeting,
        model: row.model,
        temperature: row.temperature === null ? null : Number(row.temperature),
        maxTokens: row.max_tokens === null ? null : Number(row.max_tokens),
        knowledgeChunks: Number(row.knowledge_chunks),
        useProfile: row.use_profile,
        profile: row.profile === null ? null : parseJson<ProfileFields>(row.profile),
        // A turn the client keeps (OpenAI's messages) has no conversation to collect into.
        collect: null,
        data: {},
        collectState: null,
        completed: false,
      };
      const found = parseJson<KnowledgeCandidate[]>(row.knowledge).map((k) => ({ ...k, tokens: Number(k.tokens), rank: Number(k.rank) }));
      return { state: 'started', target, knowledge: found, slug: row.slug, budgeted: row.budgeted };
    },
    async addUsage(count) {
      const shard = Math.floor(Math.random() * USAGE_SHARDS);
      await sql.query(ADD_USAGE, [count.chatbotId, count.userId, count.day, shard, count.messages, count.promptTokens, count.completionTokens]);
    },
    async recordUsage(userId, reply, now) {
      const shard = Math.floor(Math.random() * USAGE_SHARDS);
      await sql.query(USAGE, [reply.chatbotId, userId, now, shard, reply.status, reply.promptTokens, reply.completionTokens]);
    },
  };
}
