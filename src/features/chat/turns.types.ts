// The shapes of one chat turn: what begin() reads and finish() stores (turns.repo.ts), shared
// by the turn engine and the channels that start turns.
import type { Collect } from '../collection/collect-schema.js';
import type { CollectState } from '../collection/collect-state.js';
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
  /** A caller's stop sequences (the OpenAI endpoint); a chatbot has none of its own. */
  stop?: readonly string[] | null;
  knowledgeChunks: number;
  useProfile: boolean;
  /** The owner's profile when the chatbot uses it and the owner wrote one (§4), else null. */
  profile: ProfileFields | null;
  /** The chatbot's fields to gather (§9), else null. */
  collect: Collect | null;
  /** The values the conversation has collected so far. */
  data: Record<string, unknown>;
  /** The collector's place in the conversation; null before it first spoke. */
  collectState: CollectState | null;
  /** The conversation is completed: nothing is left to collect. */
  completed: boolean;
}

export type HistoryMessage = {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'interrupted' | 'failed';
  tokens: number;
  /** The context a user message was sent with; read for a regenerate only. */
  context?: string | null;
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
  /** What the turn collected, written with the reply; null when the turn collects nothing. */
  collect: StoredCollect | null;
}

export interface StoredCollect {
  data: Record<string, unknown>;
  state: CollectState;
  /** Every required field is valid: the conversation becomes completed. */
  completed: boolean;
  /** The id of the `conversation.completed` webhook event, should this turn complete it. */
  eventId: string;
  /** The data the turn began from: `data` is written only over it (turns.sql.ts). */
  base: Record<string, unknown>;
}

/** A reply finish() stored, with what its conversation then holds. */
export interface FinishedReply {
  reply: MessageFields;
  /**
   * For a turn that collects: the conversation's data and whether it is completed, as the finish
   * left them. A turn whose hold lapsed while a newer turn collected did not store its own data.
   */
  collected: { data: Record<string, unknown>; completed: boolean } | null;
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
export type TurnRefused = TurnBusy | { state: 'missing' } | { state: 'quota'; budget: number; spent: number };

/**
 * Another reply holds the conversation. `ending`: that reply's id when it is being ended (stopped,
 * or its client left, on whichever instance runs it): the hold goes once that reply is stored.
 */
export type TurnBusy = { state: 'busy'; ending?: string | null };

export interface BeginRequest {
  /**
   * Whose conversation, within the owner's tenant (api-keys/end-user.ts audienceOf): a public
   * visitor's (only on a chatbot still public) or a key's end user's. Null: the account's own.
   */
  audience: { id: string; visitor: boolean } | null;
  lock: { replyId: string; leaseMs: number };
  /** The user message to store; null to answer the last one again (regenerate). */
  message: { id: string; content: string; tokens: number; title: string | null; context: string | null } | null;
  /** Upper bound for the history read (message overhead included). */
  historyTokens: number;
  /**
   * The newest messages read whatever their size: a regenerate needs the message it answers, and
   * the reply it replaces (an assistant's among them) spends none of historyTokens, being not sent.
   */
  historyMinRows: number;
  /** The question's terms for the knowledge search (search-text.ts toQueryTerms), or null for none. */
  knowledgeQuery: string[] | null;
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
  finish(userId: string, conversationId: string, reply: StoredReply, now: Date): Promise<FinishedReply | null>;
  /** Extends the lock of a reply still being generated. */
  renew(userId: string, conversationId: string, replyId: string, leaseMs: number): Promise<void>;
  /** Asks whichever instance generates this conversation's reply to stop; false when none is running. */
  requestStop(userId: string, conversationId: string): Promise<boolean>;
  /** Of these running replies, the ones someone asked to stop. */
  stopsRequested(replyIds: string[]): Promise<string[]>;
  /** Forgets the stops deleted conversations left behind, once every instance has polled them. */
  forgetReplyStops(): Promise<void>;
  /**
   * Marks the hold of this reply as being ended (its client left), as a stop request marks it: a
   * turn asked for on another instance meanwhile waits for the reply to be stored.
   */
  markEnding(userId: string, conversationId: string, replyId: string): Promise<void>;
  /** Whether this reply still holds the conversation (and its lease has not lapsed). */
  holds(userId: string, conversationId: string, replyId: string): Promise<boolean>;
  /** Releases the lock without storing anything. */
  release(userId: string, conversationId: string, replyId: string): Promise<void>;
  /**
   * Takes back a begin() whose answer was lost (the connection dropped): while its lock still
   * holds, removes its user message (and the title it gave an untitled conversation) and frees
   * the conversation. Does nothing when that begin never happened.
   */
  undoBegin(userId: string, conversationId: string, started: { replyId: string; messageId: string | null; title: string | null }): Promise<void>;
}
