// The turn engine: for a conversation already locked by begin(), build the bounded prompt,
// call the model (streaming or not), and store the reply whatever happened. Every channel
// (Parley's API, public visitors, API keys, the OpenAI and AI SDK protocols) runs its turns
// through here; what differs between them is how the turn is started and how it is written out.
//
// Invariant: every generation that starts is finished — its reply stored (or, if the database
// refuses even a bare `failed` reply, its lock released) and its slot in `generations` freed —
// under any failure: a thrown error, a model fault, the database going away while storing.
import { isDatabaseUnavailable, isForeignKeyViolation } from '../../db/errors.js';
import type { Jobs } from '../../jobs/jobs.js';
import { createLoopGate } from '../../lib/loop-gate.js';
import { isLlmError, type LlmError } from '../../llm/errors.js';
import { countTokens } from '../../llm/tokens.js';
import type { ChatModel } from '../../llm/types.js';
import type { Principal } from '../auth/principal.js';
import { collectUpdate, type Collector, type CollectStep } from '../collection/collector.js';
import type { CollectUpdate } from '../collection/collect-state.js';
import { conversationNotFound } from '../conversations/conversations.service.js';
import { toMessage, type Message } from '../conversations/conversations.schemas.js';
import { pickKnowledge } from '../knowledge/knowledge.service.js';
import { profileFacts, renderProfile } from '../profiles/profile-text.js';
import type { Generation, Generations } from './generations.js';
import { buildPrompt } from './prompt.js';
import type { AnswersRepo } from './answers.repo.js';
import { keepProgress, type ReplyProgress } from './progress.repo.js';
import type { HistoryMessage, KnowledgeCandidate, StoredReply, TurnsRepo, TurnTarget } from './turns.repo.js';
import type { UsageBuffer } from './usage-buffer.js';

/** Calls the listener once when the client leaves (at once if it has); returns what stops listening. */
export interface ClientWatch {
  onClientGone(listener: () => void): () => void;
}

export interface TurnEvents {
  /**
   * The turn is under way: the conversation is locked and the user message stored. Returns how
   * to hear the client leave (the stream just opened), to stop the model call.
   */
  start(info: { conversationId: string | null; userMessage: Message | null; replyId: string }): ClientWatch | void;
  delta(replyId: string, text: string): void;
}

export interface TurnOptions {
  /** Streaming: receives the start and each delta. Without it the model may answer in one piece. */
  events?: TurnEvents;
  /**
   * Keeps the text produced so far in the conversation's row while the reply is generated, so a
   * client may resume it on any instance (the AI SDK's resume, §8).
   */
  progress?: boolean;
}

export interface TurnResult {
  /** Null for a turn that stores no conversation (the OpenAI endpoint). */
  conversationId: string | null;
  userMessage: Message | null;
  reply: Message;
  /** Set when the model failed: the reply is stored `failed`. */
  failure: LlmError | null;
  /** What the conversation collected, when this turn changed it (§9). */
  collect: CollectUpdate | null;
}

/** A turn begin() has started: what the model is asked, and what the reply replaces. */
export interface TurnPlan {
  replyId: string;
  message: string;
  messageTokens: number;
  turnContext: string | null;
  /** Newest first, as begin() read it. */
  history: HistoryMessage[];
  knowledge: KnowledgeCandidate[];
  /** The reply this one replaces (regenerate). */
  replaces: string | null;
  userMessage: Message | null;
  /** A calling application's own instructions (OpenAI `system` messages): after the chatbot's, never instead. */
  callerInstructions?: string | null;
  /**
   * For a turn that stores no conversation: its usage is written before the answer goes out (the
   * chatbot has a monthly budget, which the caller's next call checks); otherwise it is added up
   * with others' and written a moment later (usage-buffer.ts).
   */
  countBeforeAnswer?: boolean;
}

/** What a stored reply tells operations (metrics, usage) and features (collection). */
export interface TurnReport {
  principal: Principal;
  target: TurnTarget;
  reply: Message;
  status: Message['status'];
  latencyMs: number;
  firstTokenMs: number | null;
  promptTokens: number;
  completionTokens: number;
}

/** Runs after the reply is stored; a failing hook is logged and never fails the turn. */
export type AfterTurn = (report: TurnReport) => void | Promise<void>;

export interface TurnEngineDeps {
  turns: TurnsRepo;
  /** For turns that store no conversation: their usage is counted all the same. */
  answers: Pick<AnswersRepo, 'recordUsage'>;
  usage: Pick<UsageBuffer, 'add'>;
  progress: Pick<ReplyProgress, 'write'>;
  model: ChatModel;
  generations: Generations;
  jobs: Jobs;
  clock: { now(): Date };
  afterTurn?: AfterTurn[];
  /** Gathers a collecting chatbot's fields (§9); without it nothing is collected. */
  collector?: Collector;
  log: { warn(fields: object, message: string): void; error(fields: object, message: string): void };
  settings: { defaultModel: string; allowedModels: readonly string[]; contextTokenBudget: number; leaseMs: number };
}

export interface TurnEngine {
  run(principal: Principal, target: TurnTarget, plan: TurnPlan, options?: TurnOptions): Promise<TurnResult>;
}

/** What the model produced, and how the call ended. */
interface Produced {
  text: string;
  usage: { promptTokens: number; completionTokens: number } | null;
  promptTokens: number;
  firstTokenMs: number | null;
  failure: LlmError | null;
  unexpected: unknown;
  /** What the turn collected; null when it collects nothing. */
  collect: CollectStep | null;
}

const afterDisconnect = createLoopGate(16);
/**
 * A model call that has not ended this long after its abort (a stop, a client gone, shutdown)
 * is abandoned: the turn ends with what was produced, so a model that ignores its signal cannot
 * hold the conversation, its generation slot or shutdown.
 */
const ABANDON_AFTER_ABORT_MS = 1_000;

/** The model's answer, or null when it was abandoned after an abort. */
function abandonedAfterAbort<T>(pending: Promise<T>, signal: AbortSignal): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const abandoned = new Promise<null>((resolve) => {
    onAbort = () => {
      timer = setTimeout(() => resolve(null), ABANDON_AFTER_ABORT_MS);
      timer.unref();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([pending, abandoned]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}
/** Storing a reply while the database is unreachable is retried this long, in the background. */
export const STORE_RETRY_FOR_MS = 10 * 60_000;

export function createTurnEngine(deps: TurnEngineDeps): TurnEngine {
  const { turns, answers, usage, progress, model, generations, jobs, clock, log, settings } = deps;
  const knowledgeTokens = Math.floor(settings.contextTokenBudget / 4);
  const allowedModel = (chosen: string) => (settings.allowedModels.includes(chosen) ? chosen : settings.defaultModel);

  /** `watchClient` is handed the stream's watch on its client, to stop the model call when it leaves. */
  async function callModel(target: TurnTarget, plan: TurnPlan, options: TurnOptions, generation: Generation, modelId: string, watchClient: (client: ClientWatch) => void): Promise<Produced> {
    const produced: Produced = { text: '', usage: null, promptTokens: 0, firstTokenMs: null, failure: null, unexpected: null, collect: null };
    const started = performance.now();
    const keeper = options.progress && target.conversationId ? keepProgress(progress, { ownerId: generation.for?.userId ?? '', conversationId: target.conversationId, replyId: plan.replyId }, () => produced.text) : null;
    const { signal } = generation.controller;
    let settled = false;
    try {
      produced.collect = await collectStep(target, plan, signal, modelId);
      const hits = pickKnowledge(plan.knowledge, knowledgeTokens);
      const profile = profileFacts(target.profile);
      const built = buildPrompt({
        systemPrompt: target.systemPrompt,
        callerInstructions: plan.callerInstructions ?? null,
        profile: renderProfile(profile),
        conversationContext: target.context,
        turnContext: plan.turnContext,
        collectInstructions: produced.collect?.instructions ?? null,
        knowledge: hits,
        history: plan.history,
        message: plan.message,
        messageTokens: plan.messageTokens,
        budget: settings.contextTokenBudget,
      });
      produced.promptTokens = built.tokens;
      const events = options.events;
      const onDelta = events
        ? (delta: string) => {
            // An abandoned call may still produce: the reply is already stored without it.
            if (settled) return;
            produced.firstTokenMs ??= performance.now() - started;
            produced.text += delta;
            events.delta(plan.replyId, delta);
            keeper?.changed();
          }
        : undefined;
      const request = { model: modelId, messages: built.messages, temperature: target.temperature, maxTokens: target.maxTokens, knowledge: hits, profile, greeting: target.greeting, script: produced.collect?.script ?? null, signal };
      // The request leaves first; the start event is written while the model works on it.
      const pending = model.generate(request, onDelta);
      try {
        const client = events?.start({ conversationId: target.conversationId, userMessage: plan.userMessage, replyId: plan.replyId });
        if (client) watchClient(client);
      } catch (error) {
        generation.controller.abort(new Error('stream could not open'));
        await abandonedAfterAbort(pending, signal).catch(() => {});
        throw error;
      }
      const answer = await abandonedAfterAbort(pending, signal);
      if (answer) {
        produced.text = answer.text;
        produced.usage = answer.usage;
      }
    } catch (error) {
      if (!isLlmError(error)) produced.unexpected = error;
      // Aborted on purpose (client left, stop, shutdown) is an interruption, not a failure.
      else if (!(error.failure === 'aborted' && generation.reason)) produced.failure = error;
    }
    settled = true;
    keeper?.stop();
    return produced;
  }

  function replyOf(target: TurnTarget, plan: TurnPlan, produced: Produced, generation: Generation, modelId: string, latencyMs: number): StoredReply {
    const { text, usage, failure, unexpected } = produced;
    let tokens = 0;
    try {
      tokens = countTokens(text);
    } catch (error) {
      produced.unexpected ??= error;
    }
    return {
      id: plan.replyId,
      content: text,
      status: failure || produced.unexpected ? 'failed' : generation.reason ? 'interrupted' : 'complete',
      tokens,
      model: modelId,
      // The extraction's tokens count with the reply, so budgets and usage see every call.
      promptTokens: (usage?.promptTokens ?? produced.promptTokens) + (produced.collect?.usage?.promptTokens ?? 0),
      completionTokens: (usage?.completionTokens ?? tokens) + (produced.collect?.usage?.completionTokens ?? 0),
      latencyMs,
      errorCode: failure ? failure.failure : unexpected || produced.unexpected ? 'internal_error' : null,
      replaces: plan.replaces,
      chatbotId: target.chatbotId,
      collect: produced.collect
        ? { data: produced.collect.data, state: produced.collect.state, completed: produced.collect.completed, eventId: produced.collect.eventId }
        : null,
    };
  }

  /** The turn's collection step; a failing collector is logged and the turn goes on without it. */
  async function collectStep(target: TurnTarget, plan: TurnPlan, signal: AbortSignal, modelId: string): Promise<CollectStep | null> {
    if (!deps.collector || !target.collect) return null;
    try {
      const message = plan.userMessage ? plan.message : null;
      return await deps.collector.step({ target, message, history: plan.history, model: modelId, signal });
    } catch (error) {
      log.error({ conversation_id: target.conversationId, err: { message: (error as Error).message } }, 'collecting failed; the reply goes on without it');
      return null;
    }
  }

  async function storeOnce(ownerId: string, conversationId: string, reply: StoredReply): Promise<Message> {
    try {
      const row = await turns.finish(ownerId, conversationId, reply, clock.now());
      if (row) return toMessage(row);
    } catch (error) {
      if (!isForeignKeyViolation(error)) throw error;
    }
    // The conversation was deleted while its reply was generated.
    throw conversationNotFound();
  }

  /** Keeps trying to store a reply while the database is away; the lease holds the conversation meanwhile. */
  function storeWhenBack(ownerId: string, conversationId: string, reply: StoredReply) {
    const task = async () => {
      await storeOnce(ownerId, conversationId, reply);
      log.warn({ conversation_id: conversationId, reply_id: reply.id }, 'reply stored after the database came back');
    };
    jobs.retry('store reply', task, { retryIf: isDatabaseUnavailable, forMs: STORE_RETRY_FOR_MS });
  }

  /**
   * Stores the reply. When the database refuses it, stores a bare `failed` reply instead (the
   * content may be what it refused), else releases the lock; when the database is unreachable,
   * keeps trying in the background. Whatever happens the error reaches the caller (500/503).
   */
  async function store(ownerId: string, conversationId: string, reply: StoredReply): Promise<Message> {
    try {
      return await storeOnce(ownerId, conversationId, reply);
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        storeWhenBack(ownerId, conversationId, reply);
        throw error;
      }
      if ((error as { code?: string }).code === 'not_found') throw error;
      log.error({ conversation_id: conversationId, reply_id: reply.id, err: { message: (error as Error).message } }, 'storing a reply failed');
      const bare = { ...reply, content: '', tokens: 0, status: 'failed' as const, errorCode: 'internal_error' };
      const fallback = await storeOnce(ownerId, conversationId, bare).catch(async () => {
        await turns.release(ownerId, conversationId, reply.id).catch(() => {});
        return null;
      });
      if (fallback) return fallback;
      throw error;
    }
  }

  /**
   * A reply no conversation keeps: only its usage is written, and the answer is made here. Only a
   * chatbot with a budget makes the answer wait for that write (the next call's check must see it);
   * other usage is added up and written a moment later (usage shows shortly after the answer).
   */
  async function counted(ownerId: string, reply: StoredReply, beforeAnswer: boolean): Promise<Message> {
    const now = clock.now();
    if (beforeAnswer) await answers.recordUsage(ownerId, reply, now);
    else usage.add(ownerId, reply, now);
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

  async function report(hooks: AfterTurn[], turnReport: TurnReport) {
    for (const hook of hooks) {
      try {
        await hook(turnReport);
      } catch (error) {
        log.error({ err: { message: (error as Error).message, stack: (error as Error).stack } }, 'an after-turn step failed');
      }
    }
  }

  return {
    async run(principal, target, plan, options = {}) {
      const { conversationId } = target;
      // A turn without a conversation is known to generations by its reply.
      const key = conversationId ?? plan.replyId;
      const { generation, finish } = generations.start(key, plan.replyId, { userId: principal.ownerId, sessionId: principal.sessionId });
      const { ownerId } = principal;
      // A reply may take longer than the lease: keep it while the model is still answering.
      const renew = setInterval(() => {
        if (conversationId) turns.renew(ownerId, conversationId, plan.replyId, settings.leaseMs).catch(() => {});
      }, settings.leaseMs / 2);
      renew.unref();
      const onClientGone = () => generations.stop(key, 'client_left');
      let unwatch: (() => void) | null = null;
      const watchClient = (client: ClientWatch) => {
        unwatch = client.onClientGone(onClientGone);
      };
      const started = performance.now();
      const modelId = allowedModel(target.model);
      try {
        // callModel never throws: whatever happens is in `produced`.
        const produced = await callModel(target, plan, options, generation, modelId, watchClient);
        clearInterval(renew);
        // A client that left: let the loop take other disconnects (and abort their model calls) first.
        if (generation.reason === 'client_left') await afterDisconnect();
        const stored = replyOf(target, plan, produced, generation, modelId, Math.round(performance.now() - started));
        // Stored whatever happened, so a user message never dangles without its reply.
        const reply = conversationId ? await store(ownerId, conversationId, stored) : await counted(ownerId, stored, plan.countBeforeAnswer === true);
        const usage = reply.usage;
        await report(deps.afterTurn ?? [], {
          principal,
          target,
          reply,
          status: reply.status,
          latencyMs: reply.latency_ms ?? 0,
          firstTokenMs: produced.firstTokenMs,
          promptTokens: usage?.prompt_tokens ?? 0,
          completionTokens: usage?.completion_tokens ?? 0,
        });
        if (produced.unexpected) throw produced.unexpected;
        const step = produced.collect;
        const collect = step?.changed && target.collect ? collectUpdate(target.collect, step.data, step.completed) : null;
        return { conversationId, userMessage: plan.userMessage, reply, failure: produced.failure, collect };
      } finally {
        clearInterval(renew);
        (unwatch as (() => void) | null)?.();
        finish();
      }
    },
  };
}
