// One model call of a turn: the collection step, the bounded prompt, the call itself (streamed
// or whole), and what it produced, however it ended. The turn engine stores the result.
import { isLlmError, type LlmError } from '../../llm/errors.js';
import { countTokens } from '../../llm/tokens.js';
import type { ChatModel } from '../../llm/types.js';
import type { Collector, CollectStep } from '../collection/collector.js';
import { pickKnowledge } from '../knowledge/knowledge.service.js';
import { profileFacts, renderProfile } from '../profiles/profile-text.js';
import type { Generation } from './generations.js';
import { createKeptStreams, type KeptStreams } from './kept-streams.js';
import { buildPrompt } from './prompt.js';
import { keepProgress, type ReplyProgress } from './progress.repo.js';
import type { ClientWatch, TurnOptions, TurnPlan } from './turn-engine.js';
import type { StoredReply, TurnTarget } from './turns.repo.js';

/** What the model produced, and how the call ended. */
export interface Produced {
  text: string;
  usage: { promptTokens: number; completionTokens: number } | null;
  promptTokens: number;
  firstTokenMs: number | null;
  failure: LlmError | null;
  unexpected: unknown;
  /** What the turn collected; null when it collects nothing. */
  collect: CollectStep | null;
}

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

/** The bounded prompt of a turn, with the knowledge and profile facts it carries (the builtin responder reads them). */
function promptFor(target: TurnTarget, plan: TurnPlan, collect: CollectStep | null, knowledgeTokens: number, budget: number) {
  const hits = pickKnowledge(plan.knowledge, knowledgeTokens, plan.message);
  const profile = profileFacts(target.profile);
  const built = buildPrompt({
    systemPrompt: target.systemPrompt,
    callerInstructions: plan.callerInstructions ?? null,
    ...(plan.callerInstructionsTokens !== undefined ? { callerInstructionsTokens: plan.callerInstructionsTokens } : {}),
    profile: renderProfile(profile),
    conversationContext: target.context,
    turnContext: plan.turnContext,
    collectInstructions: collect?.instructions ?? null,
    knowledge: hits,
    history: plan.history,
    message: plan.message,
    messageTokens: plan.messageTokens,
    budget,
  });
  return { built, hits, profile };
}

export interface ModelCallDeps {
  model: ChatModel;
  progress: Pick<ReplyProgress, 'write'>;
  /** Gathers a collecting chatbot's fields (§9); without it nothing is collected. */
  collector?: Collector;
  log: { error(fields: object, message: string): void };
  settings: { contextTokenBudget: number };
}

/** Never throws: whatever happens is in what it returns. `watchClient` is handed the watch on the client (the stream's, or `options.client`), to stop the call when it leaves. */
export type CallModel = (target: TurnTarget, plan: TurnPlan, options: TurnOptions, generation: Generation, modelId: string, watchClient: (client: ClientWatch) => void) => Promise<Produced>;

/**
 * Keeps a stream's text in its conversation's row as it grows: often for a resumable one
 * (progress.repo.ts), now and then for any other (kept-streams.ts) but a regenerate's, as a cut
 * regenerate stores nothing (the reply it replaces stays).
 */
function keepText(
  to: { progress: Pick<ReplyProgress, 'write'>; kept: KeptStreams },
  target: TurnTarget,
  plan: TurnPlan,
  options: TurnOptions,
  generation: Generation,
  produced: Produced,
): { changed(): void; stop(): void } | null {
  if (!target.conversationId) return null;
  const reply = { ownerId: generation.for?.userId ?? '', conversationId: target.conversationId, replyId: plan.replyId };
  if (options.progress) return keepProgress(to.progress, reply, () => produced.text);
  if (!options.events || plan.replaces !== null) return null;
  const entry = to.kept.track(reply, produced);
  return { changed() {}, stop: () => to.kept.end(entry) };
}

/** What a turn asks its model. */
interface Ask {
  target: TurnTarget;
  plan: TurnPlan;
  produced: Produced;
  modelId: string;
  signal: AbortSignal;
}

/**
 * Builds the turn's prompt and sends it. Apart from callModel, whose frame lasts as long as the
 * reply: an async frame keeps its locals and arguments to its end, and so each open stream held
 * its history, its knowledge and its prompt for minutes, some 60 kB at a full context budget
 * (docs/decisions.md, "Memory per open stream, again"). The plan's history, knowledge and caller's
 * instructions are read here for the last time, and let go.
 */
function ask(model: ChatModel, settings: ModelCallDeps['settings'], turn: Ask, onDelta: ((delta: string) => void) | undefined) {
  const { target, plan, produced, modelId, signal } = turn;
  const { built, hits, profile } = promptFor(target, plan, produced.collect, Math.floor(settings.contextTokenBudget / 4), settings.contextTokenBudget);
  produced.promptTokens = built.tokens;
  plan.history = [];
  plan.knowledge = [];
  plan.callerInstructions = null;
  const request = { model: modelId, messages: built.messages, temperature: target.temperature, maxTokens: target.maxTokens, stop: target.stop ?? null, knowledge: hits, profile, greeting: target.greeting, script: produced.collect?.script ?? null, signal };
  return model.generate(request, onDelta);
}

export function createModelCall(deps: ModelCallDeps): CallModel {
  const { model, progress, log, settings } = deps;

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

  const kept = createKeptStreams(progress);

  return async function callModel(target, plan, options, generation, modelId, watchClient) {
    const produced: Produced = { text: '', usage: null, promptTokens: 0, firstTokenMs: null, failure: null, unexpected: null, collect: null };
    const started = performance.now();
    const keeper = keepText({ progress, kept }, target, plan, options, generation, produced);
    const { signal } = generation.controller;
    let settled = false;
    try {
      produced.collect = await collectStep(target, plan, signal, modelId);
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
      // The request leaves first; the start event is written while the model works on it.
      const pending = ask(model, settings, { target, plan, produced, modelId, signal }, onDelta);
      try {
        const client = events ? events.start({ conversationId: target.conversationId, userMessage: plan.userMessage, replyId: plan.replyId }) : options.client;
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
  };
}

/** The reply to store from what the model produced; its status says how the call ended. */
export function replyOf(target: TurnTarget, plan: TurnPlan, produced: Produced, generation: Generation, modelId: string, latencyMs: number): StoredReply {
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
      ? { data: produced.collect.data, state: produced.collect.state, completed: produced.collect.completed, eventId: produced.collect.eventId, base: target.data }
      : null,
  };
}
