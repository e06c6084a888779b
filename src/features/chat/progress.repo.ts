// The text of a reply while it is generated, kept in its conversation's row for the channels
// that resume a running reply (the AI SDK's, §8) on any instance, from PostgreSQL alone.
import type { SqlRunner } from '../../db/client.js';
import { userGate } from '../../db/scope.js';
import type { MessageFields } from '../conversations/conversations.schemas.js';
import { replyFields, type ReplyRow } from './turns.repo.js';

export interface ReplyProgress {
  /** Writes the text produced so far; only while this reply still holds the conversation. */
  write(userId: string, conversationId: string, replyId: string, text: string): Promise<void>;
  /** The reply generated now in the conversation, with its text so far; null when none runs. */
  running(userId: string, conversationId: string): Promise<{ replyId: string; text: string } | null>;
  /** The reply's text so far, or the stored reply once it finished; `lost` when neither. */
  follow(userId: string, conversationId: string, replyId: string): Promise<{ text: string; stored: MessageFields | null; lost: boolean }>;
}


const FOLLOW = `
SELECT c.busy_reply_id = $3::uuid AND c.busy_until >= now() AS running, c.busy_text,
       m.id, m.content, m.status, m.created_at, m.prompt_tokens, m.completion_tokens, m.latency_ms, m.error_code,
       m.feedback_rating, m.feedback_comment
  FROM conversations c LEFT JOIN messages m ON m.id = $3::uuid AND m.conversation_id = c.id AND m.user_id = c.user_id
 WHERE c.id = $1 AND c.user_id = $2 AND ${userGate('$2')}`;

// Not worth a wait for the disk: the text so far outlives a Parley process that dies (the commit
// is the database's at once); a crash of the database itself may lose its last moment. Waiting
// for an fsync per write held a pool connection each time and slowed every other turn's start.
const WRITE = `
UPDATE conversations SET busy_text = $4
  FROM (SELECT set_config('synchronous_commit', 'off', true)) AS s
 WHERE id = $1 AND user_id = $2 AND busy_reply_id = $3 AND ${userGate('$2')}`;

export function createReplyProgress(sql: SqlRunner): ReplyProgress {
  return {
    async write(userId, conversationId, replyId, text) {
      await sql.query(WRITE, [conversationId, userId, replyId, text]);
    },
    async running(userId, conversationId) {
      const [row] = await sql.query<{ busy_reply_id: string; busy_text: string | null }>(
        `SELECT busy_reply_id, busy_text FROM conversations
          WHERE id = $1 AND user_id = $2 AND busy_reply_id IS NOT NULL AND busy_until >= now() AND ${userGate('$2')}`,
        [conversationId, userId],
      );
      return row ? { replyId: row.busy_reply_id, text: row.busy_text ?? '' } : null;
    },
    async follow(userId, conversationId, replyId) {
      const [row] = await sql.query<Omit<ReplyRow, 'id'> & { running: boolean | null; busy_text: string | null; id: string | null }>(FOLLOW, [conversationId, userId, replyId]);
      if (row?.id) {
        const stored = replyFields(row as ReplyRow);
        return { text: row.content, stored, lost: false };
      }
      if (row?.running) return { text: row.busy_text ?? '', stored: null, lost: false };
      return { text: '', stored: null, lost: true };
    },
  };
}

/** How often the text of a reply being generated is written for resuming clients. */
const PROGRESS_EVERY_MS = 150;
// Each write carries the whole text so far: a text longer than this is written less often, in
// proportion, so that one reply of millions of characters is not megabytes of writes a second.
const PACED_CHARS = 64 * 1024;

/** `everyMs` for a text of `length` characters, stretched in proportion past PACED_CHARS. */
export const pacedMs = (everyMs: number, length: number): number => everyMs * Math.max(1, length / PACED_CHARS);

/**
 * Writes a running reply's text at most every PROGRESS_EVERY_MS (paced by its length), one write
 * at a time; a failed write is skipped, not fatal (the next one carries the text so far).
 */
export function keepProgress(progress: Pick<ReplyProgress, 'write'>, reply: { ownerId: string; conversationId: string; replyId: string }, text: () => string) {
  let timer: NodeJS.Timeout | null = null;
  let writing = false;
  let written = '';
  const flush = () => {
    timer = null;
    const now = text();
    if (writing || now === written) return;
    writing = true;
    written = now;
    progress
      .write(reply.ownerId, reply.conversationId, reply.replyId, now)
      .catch(() => {})
      .finally(() => {
        writing = false;
      });
  };
  return {
    changed() {
      timer ??= setTimeout(flush, pacedMs(PROGRESS_EVERY_MS, text().length));
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
