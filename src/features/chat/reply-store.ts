// Where a turn's reply goes once the model call has ended: into its conversation (retried in the
// background while the database is away), or, for a turn that keeps no conversation, into usage.
import { isDatabaseUnavailable, isForeignKeyViolation } from '../../db/errors.js';
import type { Jobs } from '../../jobs/jobs.js';
import { conversationNotFound } from '../conversations/conversations.service.js';
import { toMessage, type Message } from '../conversations/conversations.schemas.js';
import type { AnswersRepo } from './answers.repo.js';
import type { FinishedReply, StoredReply, TurnsRepo } from './turns.repo.js';
import type { UsageBuffer } from './usage-buffer.js';

/** Storing a reply while the database is unreachable is retried this long, in the background. */
export const STORE_RETRY_FOR_MS = 10 * 60_000;

export interface ReplyStoreDeps {
  turns: Pick<TurnsRepo, 'finish' | 'release'>;
  /** For turns that store no conversation: their usage is counted all the same. */
  answers: Pick<AnswersRepo, 'recordUsage'>;
  usage: Pick<UsageBuffer, 'add'>;
  jobs: Jobs;
  clock: { now(): Date };
  log: { warn(fields: object, message: string): void; error(fields: object, message: string): void };
}

/** A reply stored in its conversation, and what the conversation collected as it was stored. */
export interface StoredTurn {
  message: Message;
  collected: FinishedReply['collected'];
}

export interface ReplyStore {
  store(ownerId: string, conversationId: string, reply: StoredReply): Promise<StoredTurn>;
  /** Nothing collected: the turn keeps no conversation. */
  counted(ownerId: string, reply: StoredReply, beforeAnswer: boolean): Promise<StoredTurn>;
}

async function storeOnce(deps: Pick<ReplyStoreDeps, 'turns' | 'answers' | 'clock'>, ownerId: string, conversationId: string, reply: StoredReply): Promise<StoredTurn> {
  try {
    const finished = await deps.turns.finish(ownerId, conversationId, reply, deps.clock.now());
    if (finished) return { message: toMessage(finished.reply), collected: finished.collected };
  } catch (error) {
    if (!isForeignKeyViolation(error)) throw error;
  }
  // The conversation was deleted while its reply was generated. The model was called and the
  // client may have read the whole reply: it counts as any reply, or deleting a conversation
  // before its reply ends would take the reply off the chatbot's budget.
  await recordUsage(deps, ownerId, reply);
  throw conversationNotFound();
}

// Also for a chatbot deleted while the model answered: its usage stays spent (migration 0037).
async function recordUsage({ answers, clock }: Pick<ReplyStoreDeps, 'answers' | 'clock'>, ownerId: string, reply: StoredReply, now = clock.now()) {
  await answers.recordUsage(ownerId, reply, now);
}

/**
 * The model has answered (and was paid for): a database away at this moment must not throw the
 * answer away, which a client's SDK would retry as a new model call, nor lose the count. The
 * usage goes to the buffer, written once the database is back; no turn starts before then.
 */
async function recordUsageOrLater(deps: Pick<ReplyStoreDeps, 'answers' | 'usage' | 'clock'>, ownerId: string, reply: StoredReply, now: Date) {
  try {
    await recordUsage(deps, ownerId, reply, now);
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    deps.usage.add(ownerId, reply, now);
  }
}

/**
 * A reply no conversation keeps: only its usage is written, and the answer is made here. Only a
 * chatbot with a budget makes the answer wait for that write (the next call's check must see it);
 * other usage is added up and written a moment later (usage shows shortly after the answer).
 */
async function counted(deps: Pick<ReplyStoreDeps, 'answers' | 'usage' | 'clock'>, ownerId: string, reply: StoredReply, beforeAnswer: boolean): Promise<Message> {
  const now = deps.clock.now();
  if (beforeAnswer) await recordUsageOrLater(deps, ownerId, reply, now);
  else deps.usage.add(ownerId, reply, now);
  return toMessage({
    id: reply.id,
    role: 'assistant',
    content: reply.content,
    status: reply.status,
    createdAt: now,
    promptTokens: reply.promptTokens,
    completionTokens: reply.completionTokens,
    latencyMs: reply.latencyMs,
    errorCode: reply.errorCode,
    feedbackRating: null,
    feedbackComment: null,
  });
}

export function createReplyStore(deps: ReplyStoreDeps): ReplyStore {
  const { turns, jobs, log } = deps;

  /** Keeps trying to store a reply while the database is away; the lease holds the conversation meanwhile. */
  function storeWhenBack(ownerId: string, conversationId: string, reply: StoredReply) {
    const task = async () => {
      await storeOnce(deps, ownerId, conversationId, reply);
      log.warn({ conversation_id: conversationId, reply_id: reply.id }, 'reply stored after the database came back');
    };
    jobs.retry('store reply', task, { retryIf: isDatabaseUnavailable, forMs: STORE_RETRY_FOR_MS });
  }

  /**
   * Stores the reply. When the database refuses it, stores a bare `failed` reply instead (the
   * content may be what it refused), else releases the lock; when the database is unreachable,
   * keeps trying in the background. Whatever happens the error reaches the caller (500/503).
   */
  async function store(ownerId: string, conversationId: string, reply: StoredReply): Promise<StoredTurn> {
    try {
      return await storeOnce(deps, ownerId, conversationId, reply);
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        storeWhenBack(ownerId, conversationId, reply);
        throw error;
      }
      if ((error as { code?: string }).code === 'not_found') throw error;
      log.error({ conversation_id: conversationId, reply_id: reply.id, err: { message: (error as Error).message } }, 'storing a reply failed');
      const bare = { ...reply, content: '', tokens: 0, status: 'failed' as const, errorCode: 'internal_error' };
      const fallback = await storeOnce(deps, ownerId, conversationId, bare).catch(async () => {
        await turns.release(ownerId, conversationId, reply.id).catch(() => {});
        return null;
      });
      if (fallback) return fallback;
      throw error;
    }
  }

  return { store, counted: async (ownerId, reply, beforeAnswer) => ({ message: await counted(deps, ownerId, reply, beforeAnswer), collected: null }) };
}
