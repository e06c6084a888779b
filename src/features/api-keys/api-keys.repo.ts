import { and, asc, eq, sql } from 'drizzle-orm';
import type { SqlRunner } from '../../db/client.js';
import { isForeignKeyViolation } from '../../db/errors.js';
import { scopeGate, type Scoped } from '../../db/scope.js';
import { apiKeys, type ApiKeyRow } from '../../db/schema.js';

export type KeySummary = Pick<ApiKeyRow, 'id' | 'chatbotId' | 'name' | 'prefix' | 'createdAt' | 'lastUsedAt'>;

/** What the credential check needs of a key: whose it is and for which chatbot. */
export interface KeyOwner {
  id: string;
  userId: string;
  chatbotId: string;
  /** Read with the key: the OpenAI endpoint's `model` may name the chatbot by it. */
  chatbotSlug: string;
}

export interface ApiKeysRepo {
  /** Null when the chatbot is gone (deleted after the caller found it). */
  insert(userId: string, key: { id: string; chatbotId: string; name: string | null; prefix: string; hash: string }, now: Date): Promise<KeySummary | null>;
  /** Oldest first, after the key `after` names (created_at, id); `limit` + 1 rows, so a caller knows whether more follow. */
  list(userId: string, chatbotId: string, limit: number, after: [Date, string] | null): Promise<KeySummary[]>;
  remove(userId: string, chatbotId: string, keyId: string): Promise<boolean>;
  /** The key with this hash, whoever owns it; with its owner still active. */
  findByHash(hash: string): Promise<KeyOwner | null>;
  /** Writes the last use of many keys in one statement. */
  touch(uses: Array<{ id: string; at: Date }>): Promise<void>;
}

const summary = {
  id: apiKeys.id,
  chatbotId: apiKeys.chatbotId,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
};

// The owner's is_active is read with the key: a deactivated owner's keys stop at once (§3).
const FIND_BY_HASH = `
SELECT k.id, k.user_id, k.chatbot_id, b.slug FROM api_keys k
  JOIN users u ON u.id = k.user_id AND u.is_active
  JOIN chatbots b ON b.id = k.chatbot_id
 WHERE k.hash = $1 AND ${scopeGate('api-key')}`;

export function createApiKeysRepo(scoped: Scoped, sql_: SqlRunner): ApiKeysRepo {
  return {
    async insert(userId, key, now) {
      try {
        const [row] = await scoped.user(userId, ({ db }) => db.insert(apiKeys).values({ ...key, userId, createdAt: now }).returning(summary));
        return row!;
      } catch (error) {
        // The chatbot was looked up in a transaction of its own, and may be deleted since.
        if (isForeignKeyViolation(error)) return null;
        throw error;
      }
    },
    list: (userId, chatbotId, limit, after) =>
      scoped.user(userId, ({ db }) =>
        db
          .select(summary)
          .from(apiKeys)
          .where(
            and(
              eq(apiKeys.userId, userId),
              eq(apiKeys.chatbotId, chatbotId),
              after ? sql`(${apiKeys.createdAt}, ${apiKeys.id}) > (${after[0].toISOString()}::timestamptz, ${after[1]}::uuid)` : undefined,
            ),
          )
          .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
          .limit(limit + 1),
      ),
    async remove(userId, chatbotId, keyId) {
      const rows = await scoped.user(userId, ({ db }) =>
        db.delete(apiKeys).where(and(eq(apiKeys.userId, userId), eq(apiKeys.chatbotId, chatbotId), eq(apiKeys.id, keyId))).returning({ id: apiKeys.id }),
      );
      return rows.length > 0;
    },
    async findByHash(hash) {
      const rows = await sql_.query<{ id: string; user_id: string; chatbot_id: string; slug: string }>(FIND_BY_HASH, [hash]);
      const row = rows[0];
      return row ? { id: row.id, userId: row.user_id, chatbotId: row.chatbot_id, chatbotSlug: row.slug } : null;
    },
    async touch(uses) {
      if (uses.length === 0) return;
      await scoped.system('api-key', ({ db }) =>
        db.execute(sql`UPDATE api_keys SET last_used_at = GREATEST(coalesce(last_used_at, u.at), u.at)
          FROM (SELECT unnest(string_to_array(${uses.map((u) => u.id).join(',')}, ',')::uuid[]) AS id,
                       unnest(string_to_array(${uses.map((u) => u.at.toISOString()).join(',')}, ',')::timestamptz[]) AS at) u
         WHERE api_keys.id = u.id`),
      );
    },
  };
}
