import { setImmediate as nextTurn } from 'node:timers/promises';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Access } from '../../db/client.js';
import { RETRY_DEADLOCKS } from '../../db/deadlocks.js';
import { isForeignKeyViolation } from '../../db/errors.js';
import type { Scoped } from '../../db/scope.js';
import { chatbots, knowledgeChunks, knowledgeDocuments, type KnowledgeDocumentRow } from '../../db/schema.js';
import type { KnowledgePassage } from './knowledge.service.js';

export interface NewChunk {
  content: string;
  tokens: number;
  /** A tsvector literal (search-text.ts). */
  search: string;
}

const INSERT_BATCH = 50;

type DocumentSummary = Pick<KnowledgeDocumentRow, 'id' | 'title' | 'chunkCount' | 'createdAt'>;

/** `gone`: the chatbot was deleted while the document was being chunked; `full`: it would take the account past `limitBytes`. */
export type Insertion = { kind: 'stored'; document: DocumentSummary } | { kind: 'gone' } | { kind: 'full'; usedBytes: number };

export interface KnowledgeRepo {
  /** Stores the document unless the account's knowledge would pass `limitBytes` (null: no limit). */
  insert(userId: string, chatbotId: string, doc: NewDocument, chunks: NewChunk[], ids: () => string, now: Date, limitBytes: number | null): Promise<Insertion>;
  /** The UTF-8 bytes of the documents of all the user's chatbots. */
  usage(userId: string): Promise<number>;
  list(userId: string, chatbotId: string, limit: number, after: [Date, string] | null): Promise<DocumentSummary[]>;
  remove(userId: string, chatbotId: string, documentId: string): Promise<boolean>;
  /** Best chunks for a question's terms (quoted single-term tsquery literals), by full-text rank. */
  search(userId: string, chatbotId: string, terms: string[], limit: number): Promise<KnowledgePassage[]>;
}

const summary = {
  id: knowledgeDocuments.id,
  title: knowledgeDocuments.title,
  chunkCount: knowledgeDocuments.chunkCount,
  createdAt: knowledgeDocuments.createdAt,
};

/**
 * The one knowledge search, `knowledge_search` (migrations/0025): the best chunks of a chatbot for a
 * question's terms (search-text.ts toQueryTerms), by full-text rank weighed by how rare each term
 * is among the chatbot's chunks, ties in document order; only the chunks of the user the statement
 * runs for (app.user_id, which the statement's gate sets first), each with its document's title
 * (migrations/0036). It reads a bounded number of chunks
 * whatever the knowledge base's size. Parameters are SQL expressions (placeholders or subqueries),
 * so the chat turn can run it inside its own statement; `chunks` is how many chunks the chatbot has.
 * `onlyIf` (evaluated once) skips the search: with a chatbot id known only while the statement
 * runs, nothing is read for a chatbot that has none.
 */
export function knowledgeSearchSql(at: { chatbotId: string; terms: string; chunks: string; limit: string; onlyIf?: string }): string {
  return `SELECT content, tokens, rank, title
    FROM knowledge_search((${at.chatbotId})::uuid, (${at.terms})::text[], (${at.chunks})::int, (${at.limit})::int)${at.onlyIf ? `
   WHERE ${at.onlyIf}` : ''}`;
}

/**
 * In batches: one statement for a large document's thousand chunks holds the event loop for
 * hundreds of milliseconds (building it, and all of PGlite's work, is on this thread). PGlite
 * answers within microtasks, so the batches would still run back to back without ever letting
 * another request in: each waits for the next turn of the event loop.
 */
async function insertChunks(tx: Access['db'], documentId: string, chatbotId: string, userId: string, chunks: NewChunk[], ids: () => string) {
  for (let from = 0; from < chunks.length; from += INSERT_BATCH) {
    if (from > 0) await nextTurn();
    const batch = chunks.slice(from, from + INSERT_BATCH);
    await tx.insert(knowledgeChunks).values(
      batch.map((chunk, i) => ({ id: ids(), documentId, chatbotId, userId, position: from + i, content: chunk.content, tokens: chunk.tokens, search: chunk.search })),
    );
  }
}

type NewDocument = { id: string; title: string; content: string };

/**
 * The first key of the transaction-scoped advisory lock an upload holds on its account (the
 * second is the user id's hash) from reading what the account holds until it commits.
 */
const ACCOUNT_KNOWLEDGE_LOCK = 7_142_004;

/** Each chatbot counts its documents' bytes (migrations/0035): a few rows an account, by chatbots_user_idx. */
async function accountBytes(tx: Access['db'], userId: string): Promise<number> {
  const [row] = await tx
    .select({ bytes: sql<string>`coalesce(sum(${chatbots.knowledgeBytes}), 0)` })
    .from(chatbots)
    .where(eq(chatbots.userId, userId));
  return Number(row?.bytes ?? 0);
}

async function insertDocument(scoped: Scoped, userId: string, chatbotId: string, doc: NewDocument, chunks: NewChunk[], ids: () => string, now: Date, limitBytes: number | null): Promise<Insertion> {
  return scoped.user(userId, async ({ db: tx }) => {
    if (limitBytes !== null) {
      // Two uploads that each fit alone must not both be stored: the second reads what the
      // account holds once the first has committed. The lock is the transaction's first, so it
      // waits holding nothing another transaction could want.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${ACCOUNT_KNOWLEDGE_LOCK}, hashtext(${userId}::text))`);
      const usedBytes = await accountBytes(tx, userId);
      if (usedBytes + Buffer.byteLength(doc.content, 'utf8') > limitBytes) return { kind: 'full', usedBytes };
    }
    const [row] = await tx
      .insert(knowledgeDocuments)
      .values({ ...doc, chatbotId, userId, chunkCount: chunks.length, createdAt: now })
      .returning({ ...summary, bytes: sql<string>`octet_length(${knowledgeDocuments.content})` });
    await insertChunks(tx, doc.id, chatbotId, userId, chunks, ids);
    await tx
      .update(chatbots)
      .set({ knowledgeChunks: sql`${chatbots.knowledgeChunks} + ${chunks.length}`, knowledgeBytes: sql`${chatbots.knowledgeBytes} + ${Number(row!.bytes)}` })
      .where(and(eq(chatbots.id, chatbotId), eq(chatbots.userId, userId)));
    const { id, title, chunkCount, createdAt } = row!;
    return { kind: 'stored', document: { id, title, chunkCount, createdAt } };
  });
}

async function removeDocument(scoped: Scoped, userId: string, chatbotId: string, documentId: string): Promise<boolean> {
  return scoped.user(userId, async ({ db: tx }) => {
    // The chatbot before its document, as the chatbot's deletion takes them: the other
    // order deadlocked with it (test/chat/knowledge-chatbot-deleted.test.ts). What still
    // makes it a deadlock's victim is tried again (db/deadlocks.ts).
    const [chatbot] = await tx
      .select({ id: chatbots.id })
      .from(chatbots)
      .where(and(eq(chatbots.id, chatbotId), eq(chatbots.userId, userId)))
      .for('no key update');
    if (!chatbot) return false;
    const [gone] = await tx
      .delete(knowledgeDocuments)
      .where(and(eq(knowledgeDocuments.id, documentId), eq(knowledgeDocuments.chatbotId, chatbotId), eq(knowledgeDocuments.userId, userId)))
      .returning({ chunks: knowledgeDocuments.chunkCount, bytes: sql<string>`octet_length(${knowledgeDocuments.content})` });
    if (!gone) return false;
    await tx
      .update(chatbots)
      .set({
        knowledgeChunks: sql`greatest(${chatbots.knowledgeChunks} - ${gone.chunks}, 0)`,
        knowledgeBytes: sql`greatest(${chatbots.knowledgeBytes} - ${Number(gone.bytes)}, 0)`,
      })
      .where(and(eq(chatbots.id, chatbotId), eq(chatbots.userId, userId)));
    return true;
  }, RETRY_DEADLOCKS);
}

export function createKnowledgeRepo(scoped: Scoped): KnowledgeRepo {
  return {
    async insert(userId, chatbotId, doc, chunks, ids, now, limitBytes) {
      try {
        return await insertDocument(scoped, userId, chatbotId, doc, chunks, ids, now, limitBytes);
      } catch (error) {
        // Chunking takes seconds, and the chatbot may be deleted meanwhile.
        if (isForeignKeyViolation(error)) return { kind: 'gone' };
        throw error;
      }
    },
    async usage(userId) {
      return scoped.user(userId, ({ db }) => accountBytes(db, userId));
    },
    async list(userId, chatbotId, limit, after) {
      return scoped.user(userId, ({ db }) =>
        db
          .select(summary)
          .from(knowledgeDocuments)
          .where(
            and(
              eq(knowledgeDocuments.chatbotId, chatbotId),
              eq(knowledgeDocuments.userId, userId),
              after ? sql`(${knowledgeDocuments.createdAt}, ${knowledgeDocuments.id}) < (${after[0].toISOString()}::timestamptz, ${after[1]}::uuid)` : undefined,
            ),
          )
          .orderBy(desc(knowledgeDocuments.createdAt), desc(knowledgeDocuments.id))
          .limit(limit + 1),
      );
    },
    remove: (userId, chatbotId, documentId) => removeDocument(scoped, userId, chatbotId, documentId),
    async search(userId, chatbotId, terms, limit) {
      const rows = await scoped.user(userId, ({ sql }) =>
        sql.query<{ content: string; rank: number; tokens: number; title: string }>(
          knowledgeSearchSql({ chatbotId: '$1', terms: '$2', chunks: '(SELECT knowledge_chunks FROM chatbots WHERE id = $1)', limit: '$3' }),
          [chatbotId, terms, limit],
        ),
      );
      return rows.map((row) => ({ content: row.content, tokens: Number(row.tokens), rank: Number(row.rank), title: row.title }));
    },
  };
}
