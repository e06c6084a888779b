// The chat turns of Parley's own API: send, one-call chat, regenerate and stop. Each starts a
// turn (lock the conversation, store the user message, read history and knowledge: one
// statement) and hands it to the turn engine, which calls the model and stores the reply.
import type { RateRule } from '../../config/parsers.js';
import { isDatabaseUnavailable } from '../../db/errors.js';
import { AppError, validationError } from '../../errors/app-error.js';
import type { Jobs } from '../../jobs/jobs.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import { codePointLength, conversationTitle, isBlank } from '../../lib/text.js';
import { countTokens } from '../../llm/tokens.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';
import { audienceOf } from '../api-keys/end-user.js';
import type { Principal } from '../auth/principal.js';
import { conversationBusy, conversationNotFound, type ConversationsService } from '../conversations/conversations.service.js';
import { toMessage, type Message } from '../conversations/conversations.schemas.js';
import type { KnowledgeSearch } from '../knowledge/knowledge.service.js';
import { toTsqueryLiteral } from '../knowledge/search-text.js';
import type { AnswersRepo } from './answers.repo.js';
import type { Generations } from './generations.js';
import type { ReplyProgress } from './progress.repo.js';
import { STORE_RETRY_FOR_MS, type TurnEngine, type TurnOptions, type TurnResult } from './turn-engine.js';
import type { BeginRequest, HistoryMessage, TurnRefused, TurnsRepo } from './turns.repo.js';
import { budgetSpent, type DailyMessageCap } from '../usage/quotas.js';

export type { TurnEvents, TurnOptions, TurnResult } from './turn-engine.js';

export interface ChatService {
  send(caller: Principal, conversationId: string, input: { content: string; context?: string }, options?: TurnOptions): Promise<TurnResult>;
  chat(
    caller: Principal,
    input: { message: string; conversation_id?: string; chatbot_id?: string; context?: string },
    options?: TurnOptions,
  ): Promise<TurnResult>;
  regenerate(caller: Principal, conversationId: string, options?: TurnOptions): Promise<TurnResult>;
  stop(caller: Principal, conversationId: string): Promise<{ stopped: boolean }>;
  /** A turn that stores no conversation: the client sends it (the OpenAI endpoint). Usage and budget apply. */
  answer(caller: Principal, input: AnswerInput, options?: TurnOptions): Promise<TurnResult>;
  /** The reply generated now in the conversation (on any instance) with its text so far; null when none runs. */
  running(caller: Principal, conversationId: string): Promise<{ replyId: string; text: string } | null>;
  /** The reply's text so far, and the stored reply once it finished. 404 when it is neither running nor stored. */
  follow(caller: Principal, conversationId: string, replyId: string): Promise<{ text: string; done: Message | null }>;
  /** Stops the replies running here that a stop request (from any instance) names. */
  applyStopRequests(): Promise<void>;
}

export interface AnswerInput {
  chatbotId: string;
  /** The slug the caller named the chatbot by, if it did: refused as not found when it is no longer the chatbot's. */
  slug?: string | null;
  /** A model the server allows; null for the chatbot's own. */
  model: string | null;
  messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }>;
  temperature?: number | null;
  maxTokens?: number | null;
}

export interface ChatDeps {
  turns: TurnsRepo;
  answers: AnswersRepo;
  progress: ReplyProgress;
  engine: TurnEngine;
  conversations: ConversationsService;
  knowledge: KnowledgeSearch;
  generations: Generations;
  jobs: Pick<Jobs, 'retry'>;
  limiter: RateLimiter;
  /** USAGE_MESSAGES_PER_DAY for accounts. */
  dailyCap: DailyMessageCap;
  clock: Clock;
  newId: () => string;
  settings: {
    contextTokenBudget: number;
    maxMessageChars: number;
    messagesPerUser: RateRule | null;
    /** RATE_LIMIT_API_KEY_USER: turns per end user of a chatbot's keys. */
    messagesPerEndUser: RateRule | null;
    leaseMs: number;
  };
}

const MESSAGE_OVERHEAD = 3;
const KNOWLEDGE_CANDIDATES = 8;


const chatbotNotFound = () => new AppError('not_found', 'No chatbot with this id');

function refused(why: TurnRefused, now: Date): AppError {
  if (why.state === 'quota') return budgetSpent(why.budget, now);
  return why.state === 'busy' ? conversationBusy() : conversationNotFound();
}

/** A visitor's or a key end user's turns reach only their own conversations; an account's, only its own. */
function audience(caller: Principal): BeginRequest['audience'] {
  const id = audienceOf(caller);
  return id === null ? null : { id, visitor: caller.kind === 'visitor' };
}

export function createChatService(deps: ChatDeps): ChatService {
  const { turns, answers, progress, engine, conversations, knowledge, generations, jobs, limiter, dailyCap, clock, newId, settings } = deps;
  const messagesPolicy = { name: 'messages_user', rule: settings.messagesPerUser };
  const endUserPolicy = { name: 'api_key_user', rule: settings.messagesPerEndUser };

  /**
   * Accounts' own limits; a key's end users have theirs (the key's own limit is counted with the
   * key); visitors are held by the public limits where their requests come in.
   */
  async function admit(caller: Principal) {
    if (caller.kind === 'visitor') return;
    if (caller.kind === 'apiKey') return limiter.consume(endUserPolicy, `${caller.chatbotId}:${caller.endUser ?? ''}`);
    await limiter.consume(messagesPolicy, caller.ownerId);
    await dailyCap.check(caller.ownerId, clock.now());
  }

  /**
   * The day's cap counts turns that started, not requests refused (not found, busy, budget spent).
   * The conversation is locked by then: a store fault must not leave it so (the limiter logs it).
   */
  async function counted(caller: Principal) {
    if (caller.kind === 'user') await dailyCap.record(caller.ownerId, clock.now()).catch(() => {});
  }

  function checkContent(field: string, content: string) {
    if (isBlank(content)) throw validationError(field, 'must not be empty');
    if (codePointLength(content) > settings.maxMessageChars) throw validationError(field, `must be at most ${settings.maxMessageChars} characters`);
  }

  /**
   * begin(), for a turn the caller is told did not happen when the connection drops before its
   * answer (503). The statement may have committed all the same, holding the conversation for
   * the lease with a message nobody was shown: once the database answers, that start is taken
   * back if it happened, and `thenToo` runs (the one-call chat's new conversation goes too).
   */
  async function begin(caller: Principal, id: string, request: BeginRequest, now: Date, thenToo?: () => Promise<void>) {
    try {
      return await turns.begin(caller.ownerId, id, request, now);
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        const started = { replyId: request.lock.replyId, messageId: request.message?.id ?? null, title: request.message?.title ?? null };
        const undo = async () => {
          await turns.undoBegin(caller.ownerId, id, started);
          await thenToo?.();
        };
        jobs.retry('undo a turn start', undo, { retryIf: isDatabaseUnavailable, forMs: STORE_RETRY_FOR_MS });
      }
      throw error;
    }
  }

  /** Locks the conversation and stores the user message; refused (404/409) when it cannot. */
  async function beginSend(caller: Principal, id: string, input: { content: string; context?: string }, thenToo?: () => Promise<void>) {
    const now = clock.now();
    // Ids are time-ordered and history is read in id order: the message must sort before its reply.
    const messageId = newId();
    const replyId = newId();
    const tokens = countTokens(input.content);
    const started = await begin(
      caller,
      id,
      {
        audience: audience(caller),
        lock: { replyId, leaseMs: settings.leaseMs },
        message: { id: messageId, content: input.content, tokens, title: conversationTitle(input.content) },
        historyTokens: Math.max(0, settings.contextTokenBudget - tokens - MESSAGE_OVERHEAD),
        historyMinRows: 0,
        knowledgeQuery: toTsqueryLiteral(input.content),
        knowledgeLimit: KNOWLEDGE_CANDIDATES,
      },
      now,
      thenToo,
    );
    if (started.state !== 'started') throw refused(started, now);
    await counted(caller);
    const userMessage = toMessage({
      id: messageId,
      role: 'user',
      content: input.content,
      status: 'complete',
      createdAt: now,
      promptTokens: null,
      completionTokens: null,
      latencyMs: null,
      errorCode: null,
      feedbackRating: null,
      feedbackComment: null,
    });
    const plan = {
      replyId,
      message: input.content,
      messageTokens: tokens,
      turnContext: input.context ?? null,
      history: started.history,
      knowledge: started.knowledge,
      replaces: null,
      userMessage,
    };
    return { target: started.target, plan };
  }

  async function send(caller: Principal, conversationId: string, input: { content: string; context?: string }, options: TurnOptions = {}) {
    checkContent('content', input.content);
    if (!isUuid(conversationId)) throw conversationNotFound();
    await admit(caller);
    const { target, plan } = await beginSend(caller, conversationId.toLowerCase(), input);
    return engine.run(caller, target, plan, options);
  }

  /**
   * The one-call form in a new conversation. Everything that can refuse the turn is checked before
   * the conversation exists; should its begin still fail, the conversation goes again, so a refused
   * request leaves nothing behind (its id was never given out).
   */
  async function chatInNew(caller: Principal, input: { message: string; chatbot_id?: string; context?: string }, options: TurnOptions) {
    await admit(caller);
    const created = await conversations.create(caller, { chatbot_id: input.chatbot_id });
    let begun: Awaited<ReturnType<typeof beginSend>>;
    try {
      const discard = () => conversations.discardEmpty(caller, created.id);
      begun = await beginSend(caller, created.id, { content: input.message, context: input.context }, discard);
    } catch (error) {
      await conversations.discardEmpty(caller, created.id).catch(() => {});
      throw error;
    }
    return engine.run(caller, begun.target, begun.plan, options);
  }

  async function regenerate(caller: Principal, conversationId: string, options: TurnOptions = {}) {
    if (!isUuid(conversationId)) throw conversationNotFound();
    await admit(caller);
    const id = conversationId.toLowerCase();
    const replyId = newId();
    // The last reply and the message it answers are read whatever their size.
    const plan = { historyTokens: settings.contextTokenBudget, historyMinRows: 2, knowledgeQuery: null, knowledgeLimit: 0 };
    const now = clock.now();
    const started = await begin(caller, id, { audience: audience(caller), lock: { replyId, leaseMs: settings.leaseMs }, message: null, ...plan }, now);
    if (started.state !== 'started') throw refused(started, now);
    await counted(caller);
    const { history } = started;
    const replaced = history[0]?.role === 'assistant' ? history[0] : null;
    const rest = replaced ? history.slice(1) : history;
    const last = rest[0];
    if (!last || last.role !== 'user') {
      await turns.release(caller.ownerId, id, replyId);
      throw new AppError('nothing_to_regenerate', 'There is no message to answer again in this conversation');
    }
    // The message being answered again decides which knowledge applies: one more search.
    let knowledgeRows: Awaited<ReturnType<KnowledgeSearch['search']>> = [];
    try {
      if (started.target.knowledgeChunks > 0) knowledgeRows = await knowledge.search(caller.ownerId, started.target.chatbotId, last.content, KNOWLEDGE_CANDIDATES);
    } catch (error) {
      await turns.release(caller.ownerId, id, replyId).catch(() => {});
      throw error;
    }
    return engine.run(
      caller,
      started.target,
      { replyId, message: last.content, messageTokens: last.tokens, turnContext: null, history: rest.slice(1), knowledge: knowledgeRows, replaces: replaced?.id ?? null, userMessage: null },
      options,
    );
  }

  /** The client's conversation as the prompt's history (newest first) and its own instructions. */
  function clientConversation(messages: AnswerInput['messages']) {
    const last = messages.at(-1);
    if (!last || last.role !== 'user') throw validationError('messages', 'the last message must be the user\'s');
    checkContent(`messages.${messages.length - 1}.content`, last.content);
    const instructions = messages.filter((m) => m.role === 'system' && !isBlank(m.content)).map((m) => m.content.trim());
    const history: HistoryMessage[] = [];
    for (let i = messages.length - 2; i >= 0; i--) {
      const m = messages[i]!;
      if (m.role === 'system' || isBlank(m.content)) continue;
      history.push({ id: '', role: m.role, content: m.content, status: 'complete', tokens: countTokens(m.content) });
    }
    return { last, history, instructions: instructions.length > 0 ? instructions.join('\n\n') : null };
  }

  async function answer(caller: Principal, input: AnswerInput, options: TurnOptions = {}) {
    const { last, history, instructions } = clientConversation(input.messages);
    if (!isUuid(input.chatbotId) || (caller.chatbotId !== undefined && caller.chatbotId !== input.chatbotId.toLowerCase())) throw chatbotNotFound();
    await admit(caller);
    const now = clock.now();
    const search = { query: toTsqueryLiteral(last.content), limit: KNOWLEDGE_CANDIDATES };
    const started = await answers.start(caller.ownerId, input.chatbotId.toLowerCase(), search, now, caller.keyCheck);
    if (started.state === 'key_refused') throw new AppError('invalid_token', 'The API key is not valid');
    if (started.state !== 'started') throw started.state === 'quota' ? budgetSpent(started.budget, now) : chatbotNotFound();
    if (input.slug != null && input.slug !== started.slug) throw chatbotNotFound();
    await counted(caller);
    const target = {
      ...started.target,
      model: input.model ?? started.target.model,
      temperature: input.temperature ?? started.target.temperature,
      maxTokens: input.maxTokens ?? started.target.maxTokens,
    };
    const plan = {
      replyId: newId(),
      message: last.content,
      messageTokens: countTokens(last.content),
      turnContext: null,
      history,
      knowledge: started.knowledge,
      replaces: null,
      userMessage: null,
      callerInstructions: instructions,
      countBeforeAnswer: started.budgeted,
    };
    return engine.run(caller, target, plan, options);
  }

  return {
    send,
    regenerate,
    answer,
    async running(caller, conversationId) {
      const conversation = await conversations.get(caller, conversationId);
      return progress.running(caller.ownerId, conversation.id);
    },
    async follow(caller, conversationId, replyId) {
      const conversation = await conversations.get(caller, conversationId);
      const seen = isUuid(replyId) ? await progress.follow(caller.ownerId, conversation.id, replyId.toLowerCase()) : null;
      if (!seen || seen.lost) throw new AppError('not_found', 'That reply is no longer being generated');
      return { text: seen.text, done: seen.stored ? toMessage(seen.stored) : null };
    },
    async chat(caller, input, options = {}) {
      checkContent('message', input.message);
      if (input.conversation_id === undefined) return chatInNew(caller, input, options);
      if (input.chatbot_id !== undefined) throw validationError('chatbot_id', 'give either conversation_id or chatbot_id, not both');
      return send(caller, input.conversation_id, { content: input.message, context: input.context }, options);
    },
    async stop(caller, conversationId) {
      const conversation = await conversations.get(caller, conversationId);
      // Recorded for whichever instance runs the reply (it polls), and applied at once when it runs here.
      const requested = await turns.requestStop(caller.ownerId, conversation.id);
      const here = generations.stop(conversation.id, 'stopped');
      return { stopped: requested || here };
    },
    async applyStopRequests() {
      const ids = generations.replyIds();
      if (ids.length === 0) return;
      for (const replyId of await turns.stopsRequested(ids)) generations.stopReply(replyId, 'stopped');
    },
  };
}
