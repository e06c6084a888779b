import type { Scoped } from '../../db/scope.js';
import type { UsageDay } from './usage.schemas.js';

export interface UsageRange {
  /** First UTC day, YYYY-MM-DD, included. */
  from: string;
  /** Last UTC day, YYYY-MM-DD, included. */
  to: string;
}

export interface UsageRepo {
  /**
   * The user's usage per UTC day in the range, oldest first, over all their chatbots or only
   * `chatbotId`; days without usage are left out. Undefined when `chatbotId` names no chatbot
   * of theirs.
   */
  daily(userId: string, range: UsageRange, chatbotId: string | null): Promise<UsageDay[] | undefined>;
}

type Row = { date: string; messages: string | number; prompt_tokens: string | number; completion_tokens: string | number };

// A turn adds to one of its chatbot's shards for the day (migrations/0009): the shards add up
// here. Each variant has its own index: (chatbot_id, day, shard) for one chatbot, (user_id,
// day) for all of them. A day whose rows add up to nothing (a reply that failed before its
// prompt was counted) is no usage. The day is read as text so both drivers answer the same string.
const totals = (filter: string) => `
SELECT to_char(u.day, 'YYYY-MM-DD') AS date,
       sum(u.messages)::bigint AS messages,
       sum(u.prompt_tokens)::bigint AS prompt_tokens,
       sum(u.completion_tokens)::bigint AS completion_tokens
  FROM usage_daily u
 WHERE u.user_id = $1 AND u.day BETWEEN $2::date AND $3::date ${filter}
 GROUP BY u.day
HAVING sum(u.messages) > 0 OR sum(u.prompt_tokens) > 0 OR sum(u.completion_tokens) > 0
 ORDER BY u.day`;

const ALL_CHATBOTS = totals('');
const ONE_CHATBOT = totals('AND u.chatbot_id = $4::uuid');
const OWNS_CHATBOT = 'SELECT 1 FROM chatbots WHERE id = $2::uuid AND user_id = $1';

const toDay = (row: Row): UsageDay => ({
  date: row.date,
  messages: Number(row.messages),
  prompt_tokens: Number(row.prompt_tokens),
  completion_tokens: Number(row.completion_tokens),
});

export function createUsageRepo(scoped: Scoped): UsageRepo {
  return {
    async daily(userId, range, chatbotId) {
      return scoped.user(userId, async ({ sql }) => {
        if (chatbotId !== null) {
          const owned = await sql.query(OWNS_CHATBOT, [userId, chatbotId]);
          if (owned.length === 0) return undefined;
        }
        const rows = await sql.query<Row>(
          chatbotId === null ? ALL_CHATBOTS : ONE_CHATBOT,
          chatbotId === null ? [userId, range.from, range.to] : [userId, range.from, range.to, chatbotId],
        );
        return rows.map(toDay);
      });
    },
  };
}
