// One chat turn, end to end: lock the conversation, store the user's message, build a
// bounded prompt, call the model (streaming or not), store the reply whatever happened.
import type { RateRule } from '../../config/parsers.js';
import { isForeignKeyViolation } from '../../db/errors.js';
import { AppError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import { createLoopGate } from '../../lib/loop-gate.js';
import { codePointLength, conversationTitle, isBlank } from '../../lib/text.js';
import { isLlmError, type LlmError } from '../../llm/errors.js';
import { countTokens } from '../../llm/tokens.js';
import type { ChatModel } from '../../llm/types.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';
import type { Caller } from '../auth/session-guard.js';
import { conversationBusy, conversationNotFound, type ConversationsService } from '../conversations/conversations.service.js';
import { toMessage, type Message } from '../conversations/conversations.schemas.js';
import { pickKnowledge, type KnowledgeSearch } from '../knowledge/knowledge.service.js';
import { toTsqueryLiteral } from '../knowledge/search-text.js';
import type { Generations } from './generations.js';
import { buildPrompt } from './prompt.js';
import type { HistoryMessage, KnowledgeCandidate, StoredReply, TurnsRepo, TurnTarget } from './turns.repo.js';

export interface TurnEvents {
  /** The turn is under way: the conversation is locked and the user message stored. */
  start(info: { conversationId: string; userMessage: Message | null; replyId: string }): void;
  delta(replyId: string, text: string): void;
}

export interface TurnResult {
  conversationId: string;
  userMessage: Message | null;
  reply: Message;
  /** Set when the model failed: the reply is stored `failed`. */
  failure: LlmError | null;
}

export interface TurnOptions {
  /** Streaming: receives the start and each delta. Without it the model may answer in one piece. */
  events?: TurnEvents;
  /** Aborts the model call when the client leaves (streaming). */
  clientGone?: AbortSignal;
}

export interface ChatService {
  send(caller: Caller, conversationId: string, input: { content: string; context?: string }, options?: TurnOptions): Promise<TurnResult>;
  chat(
    caller: Caller,
    input: { message: string; conversation_id?: string; chatbot_id?: string; context?: string },
    options?: TurnOptions,
  ): Promise<TurnResult>;
  regenerate(caller: Caller, conversationId: string, options?: TurnOptions): Promise<TurnResult>;
  stop(caller: Caller, conversationId: string): Promise<{ stopped: boolean }>;
  /** Stops the replies running here that a stop request (from any instance) names. */
  applyStopRequests(): Promise<void>;
}

/** What a stored reply tells operations (metrics). */
export interface ReplyReport {
  status: 'complete' | 'interrupted' | 'failed';
  latencyMs: number;
  firstTokenMs: number | null;
  promptTokens: number;
  completionTokens: number;
}

export interface ChatDeps {
  onReply?: (report: ReplyReport) => void;
  turns: TurnsRepo;
  conversations: ConversationsService;
  knowledge: KnowledgeSearch;
  model: ChatModel;
  generations: Generations;
  limiter: RateLimiter;
  clock: Clock;
  newId: () => string;
  settings: {
    defaultModel: string;
    allowedModels: readonly string[];
    contextTokenBudget: number;
    maxMessageChars: number;
    messagesPerUser: RateRule | null;
  };
}

const LEASE_MS = 120_000;
const afterDisconnect = createLoopGate(16);
const MESSAGE_OVERHEAD = 3;
const KNOWLEDGE_CANDIDATES = 8;

function invalid(path: string, message: string): AppError {
  return new AppError('validation_failed', 'The request does not match the expected schema', { errors: [{ path, message }] });
}

export function createChatService(deps: ChatDeps): ChatService {
  const { turns, conversations, knowledge, model, generations, limiter, clock, newId, settings } = deps;
  const messagesPolicy = { name: 'messages_user', rule: settings.messagesPerUser };

  function checkContent(path: string, content: string) {
    if (isBlank(content)) throw invalid(path, 'must not be empty');
    if (codePointLength(content) > settings.maxMessageChars) throw invalid(path, `must be at most ${settings.maxMessageChars} characters`);
  }

  async function lockFailure(userId: string, conversationId: string): Promise<never> {
    throw (await turns.isBusy(userId, conversationId)) ? conversationBusy() : conversationNotFound();
  }

  const knowledgeTokens = Math.floor(settings.contextTokenBudget / 4);

  /** What begin() needs to read history and knowledge in the same statement. */
  function readPlan(message: string, messageTokens: number) {
    return {
      historyTokens: Math.max(0, settings.contextTokenBudget - messageTokens - MESSAGE_OVERHEAD),
      knowledgeQuery: toTsqueryLiteral(message),
      knowledgeLimit: KNOWLEDGE_CANDIDATES,
    };
  }

  interface Turn {
    replyId: string;
    message: string;
    messageTokens: number;
    turnContext: string | null;
    /** Newest first, as begin() read it. */
    history: HistoryMessage[];
    knowledge: KnowledgeCandidate[];
    replaces: string | null;
    userMessage: Message | null;
  }

  /** What the model produced, and how the call ended. */
  interface Produced {
    text: string;
    usage: { promptTokens: number; completionTokens: number } | null;
    promptTokens: number;
    firstTokenMs: number | null;
    failure: LlmError | null;
    unexpected: unknown;
  }

  /** How generate() steers one model call. */
  interface Control {
    modelId: string;
    signal: AbortSignal;
    /** Why the call was aborted on purpose, if it was. */
    reason: () => string | null;
    /** Announces the turn (message.start) once the model request is on its way. */
    begin: () => void;
    abort: () => void;
  }

  async function callModel(target: TurnTarget, turn: Turn, options: TurnOptions, control: Control): Promise<Produced> {
    const { modelId, signal, reason, begin, abort } = control;
    const produced: Produced = { text: '', usage: null, promptTokens: 0, firstTokenMs: null, failure: null, unexpected: null };
    const started = performance.now();
    try {
      const hits = pickKnowledge(turn.knowledge, knowledgeTokens);
      const built = buildPrompt({
        systemPrompt: target.systemPrompt,
        profile: null, // the owner's profile joins here once profiles exist (§4)
        conversationContext: target.context,
        turnContext: turn.turnContext,
        knowledge: hits,
        history: turn.history,
        message: turn.message,
        messageTokens: turn.messageTokens,
        budget: settings.contextTokenBudget,
      });
      produced.promptTokens = built.tokens;
      const onDelta = options.events
        ? (delta: string) => {
            produced.firstTokenMs ??= performance.now() - started;
            produced.text += delta;
            options.events!.delta(turn.replyId, delta);
          }
        : undefined;
      const request = {
        model: modelId,
        messages: built.messages,
        temperature: target.temperature,
        maxTokens: target.maxTokens,
        knowledge: hits,
        greeting: target.greeting,
        signal,
      };
      // The request leaves first; message.start is written while the model works on it.
      const pending = model.generate(request, onDelta);
      try {
        begin();
      } catch (error) {
        abort();
        await pending.catch(() => {});
        throw error;
      }
      const answer = await pending;
      produced.text = answer.text;
      produced.usage = answer.usage;
    } catch (error) {
      if (!isLlmError(error)) produced.unexpected = error;
      // Aborted on purpose (client left, stop, shutdown) is an interruption, not a failure.
      else if (!(error.failure === 'aborted' && reason())) produced.failure = error;
    }
    return produced;
  }

  async function generate(caller: Caller, target: TurnTarget, turn: Turn, options: TurnOptions): Promise<TurnResult> {
    const { generation, finish } = generations.start(target.conversationId, turn.replyId);
    // A reply may take longer than the lease: keep it while the model is still answering.
    const renew = setInterval(() => {
      turns.renew(caller.user.id, target.conversationId, turn.replyId, LEASE_MS).catch(() => {});
    }, LEASE_MS / 2);
    const onClientGone = () => generations.stop(target.conversationId, 'client_left');
    options.clientGone?.addEventListener('abort', onClientGone, { once: true });
    const started = performance.now();
    const modelId = allowedModel(target.model);
    let produced: Produced;
    // callModel never throws: whatever happens is in `produced`.
    try {
      produced = await callModel(target, turn, options, {
        modelId,
        signal: generation.controller.signal,
        reason: () => generation.reason,
        begin: () => {
          options.events?.start({ conversationId: target.conversationId, userMessage: turn.userMessage, replyId: turn.replyId });
          if (options.clientGone?.aborted) onClientGone();
        },
        abort: () => generation.controller.abort(new Error('stream could not open')),
      });
    } finally {
      clearInterval(renew);
      options.clientGone?.removeEventListener('abort', onClientGone);
    }
    // A client that left: let the loop take other disconnects (and abort their model calls) first.
    if (generation.reason === 'client_left') await afterDisconnect();
    const { text, usage, failure, unexpected } = produced;
    const tokens = countTokens(text);
    // Stored whatever happened, so a user message never dangles without its reply.
    const reply = await store(caller, target.conversationId, {
      id: turn.replyId,
      content: text,
      status: failure || unexpected ? 'failed' : generation.reason ? 'interrupted' : 'complete',
      tokens,
      model: modelId,
      promptTokens: usage?.promptTokens ?? produced.promptTokens,
      completionTokens: usage?.completionTokens ?? tokens,
      latencyMs: Math.round(performance.now() - started),
      errorCode: failure ? failure.failure : unexpected ? 'internal_error' : null,
      replaces: turn.replaces,
    }).finally(finish);
    deps.onReply?.({
      status: reply.status,
      latencyMs: reply.latency_ms ?? 0,
      firstTokenMs: produced.firstTokenMs,
      promptTokens: reply.usage?.prompt_tokens ?? 0,
      completionTokens: reply.usage?.completion_tokens ?? 0,
    });
    if (unexpected) throw unexpected;
    return { conversationId: target.conversationId, userMessage: turn.userMessage, reply, failure };
  }

  function allowedModel(chosen: string): string {
    return settings.allowedModels.includes(chosen) ? chosen : settings.defaultModel;
  }

  async function store(caller: Caller, conversationId: string, reply: StoredReply): Promise<Message> {
    try {
      const row = await turns.finish(caller.user.id, conversationId, reply, clock.now());
      if (row) return toMessage(row);
    } catch (error) {
      if (!isForeignKeyViolation(error)) throw error;
    }
    // The conversation was deleted while its reply was generated.
    throw conversationNotFound();
  }

  async function send(caller: Caller, conversationId: string, input: { content: string; context?: string }, options: TurnOptions = {}) {
    checkContent('body.content', input.content);
    if (!isUuid(conversationId)) throw conversationNotFound();
    await limiter.consume(messagesPolicy, caller.user.id);
    const id = conversationId.toLowerCase();
    const now = clock.now();
    // Ids are time-ordered and history is read in id order: the message must sort before its reply.
    const messageId = newId();
    const replyId = newId();
    const tokens = countTokens(input.content);
    const started = await turns.begin(
      caller.user.id,
      id,
      {
        lock: { replyId, leaseMs: LEASE_MS },
        message: { id: messageId, content: input.content, tokens, title: conversationTitle(input.content) },
        ...readPlan(input.content, tokens),
      },
      now,
    );
    if (!started) return lockFailure(caller.user.id, id);
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
    return generate(
      caller,
      started.target,
      {
        replyId,
        message: input.content,
        messageTokens: tokens,
        turnContext: input.context ?? null,
        history: started.history,
        knowledge: started.knowledge,
        replaces: null,
        userMessage,
      },
      options,
    );
  }

  return {
    send,
    async chat(caller, input, options = {}) {
      checkContent('body.message', input.message);
      let conversationId = input.conversation_id;
      if (conversationId === undefined) {
        const created = await conversations.create(caller, { chatbot_id: input.chatbot_id });
        conversationId = created.id;
      } else if (input.chatbot_id !== undefined) {
        throw invalid('body.chatbot_id', 'give either conversation_id or chatbot_id, not both');
      }
      return send(caller, conversationId, { content: input.message, context: input.context }, options);
    },
    async regenerate(caller, conversationId, options = {}) {
      if (!isUuid(conversationId)) throw conversationNotFound();
      await limiter.consume(messagesPolicy, caller.user.id);
      const id = conversationId.toLowerCase();
      const replyId = newId();
      const plan = { historyTokens: settings.contextTokenBudget, knowledgeQuery: null, knowledgeLimit: 0 };
      const started = await turns.begin(caller.user.id, id, { lock: { replyId, leaseMs: LEASE_MS }, message: null, ...plan }, clock.now());
      if (!started) return lockFailure(caller.user.id, id);
      const { history } = started;
      const replaced = history[0]?.role === 'assistant' ? history[0] : null;
      const rest = replaced ? history.slice(1) : history;
      const last = rest[0];
      if (!last || last.role !== 'user') {
        await turns.release(caller.user.id, id, replyId);
        throw new AppError('nothing_to_regenerate', 'There is no message to answer again in this conversation');
      }
      // The message being answered again decides which knowledge applies: one more search.
      const knowledgeRows = started.target.knowledgeChunks > 0 ? await knowledge.search(caller.user.id, started.target.chatbotId, last.content, KNOWLEDGE_CANDIDATES) : [];
      return generate(
        caller,
        started.target,
        { replyId, message: last.content, messageTokens: last.tokens, turnContext: null, history: rest.slice(1), knowledge: knowledgeRows, replaces: replaced?.id ?? null, userMessage: null },
        options,
      );
    },
    async stop(caller, conversationId) {
      const conversation = await conversations.get(caller, conversationId);
      // Recorded for whichever instance runs the reply (it polls), and applied at once when it runs here.
      const requested = await turns.requestStop(caller.user.id, conversation.id);
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
