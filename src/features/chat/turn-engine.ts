// The turn engine: for a conversation already locked by begin(), build the bounded prompt,
// call the model (streaming or not), and store the reply whatever happened. Every channel
// (Parley's API, public visitors, API keys, the OpenAI and AI SDK protocols) runs its turns
// through here; what differs between them is how the turn is started and how it is written out.
// The call itself is model-call.ts's, storing its reply reply-store.ts's.
//
// Invariant: every generation that starts is finished — its reply stored (or, if the database
// refuses even a bare `failed` reply, its lock released) and its slot in `generations` freed —
// under any failure: a thrown error, a model fault, the database going away while storing.
import type { Jobs } from '../../jobs/jobs.js';
import { createLoopGate } from '../../lib/loop-gate.js';
import type { LlmError } from '../../llm/errors.js';
import type { ChatModel } from '../../llm/types.js';
import type { Principal } from '../auth/principal.js';
import { collectUpdate, type Collector } from '../collection/collector.js';
import type { CollectUpdate } from '../collection/collect-state.js';
import type { Message } from '../conversations/conversations.schemas.js';
import type { Generation, Generations } from './generations.js';
import type { AnswersRepo } from './answers.repo.js';
import { createModelCall, replyOf } from './model-call.js';
import type { ReplyProgress } from './progress.repo.js';
import { createReplyStore } from './reply-store.js';
import type { HistoryMessage, KnowledgeCandidate, TurnsRepo, TurnTarget } from './turns.repo.js';
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
   * Not streaming: how to hear the client leave, to stop the model call (the OpenAI endpoint,
   * where nothing is kept for a client to read later). Without it, the reply is finished and
   * stored for the conversation's history whoever is still waiting (§6.1 covers streams only).
   */
  client?: ClientWatch;
  /**
   * Keeps the text produced so far in the conversation's row while the reply is generated, so a
   * client may resume it on any instance (the AI SDK's resume, §8).
   */
  progress?: boolean;
  /**
   * Regenerate: a stored message of the conversation the client named (the AI SDK's `messageId`).
   * Only the last reply, or the message it answers, is answered again; another is refused (422).
   */
  replacing?: string;
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
  /** The most tokens the model was asked to answer in; null for none. */
  maxTokens: number | null;
}

/** A turn begin() has started: what the model is asked, and what the reply replaces. */
export interface TurnPlan {
  replyId: string;
  message: string;
  messageTokens: number;
  turnContext: string | null;
  /** Newest first, as begin() read it. Emptied once the prompt is built (model-call.ts): a plan is for one run. */
  history: HistoryMessage[];
  /** Emptied with the history. */
  knowledge: KnowledgeCandidate[];
  /** The reply this one replaces (regenerate). */
  replaces: string | null;
  userMessage: Message | null;
  /** A calling application's own instructions (OpenAI `system` messages): after the chatbot's, never instead. Emptied with the history. */
  callerInstructions?: string | null;
  /** Their tokens, counted when the turn was planned. */
  callerInstructionsTokens?: number;
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

// When many clients leave at once, their upstream calls are closed first and their replies stored
// once the burst is over (a conversation stays busy at most a second longer).
const afterDisconnect = createLoopGate(16, { quietMs: 50, maxWaitMs: 1000 });

async function report(log: TurnEngineDeps['log'], hooks: AfterTurn[], turnReport: TurnReport) {
  for (const hook of hooks) {
    try {
      await hook(turnReport);
    } catch (error) {
      log.error({ err: { message: (error as Error).message, stack: (error as Error).stack } }, 'an after-turn step failed');
    }
  }
}

/**
 * What a turn does when its client leaves: its model call is stopped, and its hold is marked as
 * being ended, as a stop request marks it, so that a next message sent at once to another
 * instance waits for this reply to be stored rather than being refused (turn-starts.ts).
 */
function clientGone({ generations, turns }: TurnEngineDeps, key: string, generation: Generation, hold: { ownerId: string; conversationId: string | null }) {
  return () => {
    if (generations.stop(key, 'client_left') && generation.reason === 'client_left' && hold.conversationId) {
      turns.markEnding(hold.ownerId, hold.conversationId, generation.replyId).catch(() => {});
    }
  };
}

export function createTurnEngine(deps: TurnEngineDeps): TurnEngine {
  const { turns, generations, log, settings } = deps;
  const callModel = createModelCall(deps);
  const replies = createReplyStore(deps);
  const allowedModel = (chosen: string) => (settings.allowedModels.includes(chosen) ? chosen : settings.defaultModel);

  return {
    async run(principal, target, plan, options = {}) {
      const { conversationId } = target;
      // A turn without a conversation is known to generations by its reply.
      const key = conversationId ?? plan.replyId;
      // Known by its chatbot when a conversation keeps it, which the chatbot's deletion takes away.
      const chatbotId = conversationId ? target.chatbotId : undefined;
      const { generation, finish } = generations.start(key, plan.replyId, {
        userId: principal.ownerId,
        sessionId: principal.sessionId,
        chatbotId,
        visitor: principal.kind === 'visitor',
        verifiedUser: principal.verifiedUser,
      });
      const { ownerId } = principal;
      // A reply may take longer than the lease: keep it while the model is still answering.
      const renew = setInterval(() => {
        if (conversationId) turns.renew(ownerId, conversationId, plan.replyId, settings.leaseMs).catch(() => {});
      }, settings.leaseMs / 2);
      renew.unref();
      const onClientGone = clientGone(deps, key, generation, { ownerId, conversationId });
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
        const { message: reply, collected } = conversationId ? await replies.store(ownerId, conversationId, stored) : await replies.counted(ownerId, stored, plan.countBeforeAnswer === true);
        const usage = reply.usage;
        await report(log, deps.afterTurn ?? [], {
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
        // The client is told what the conversation holds, as the reply was stored with it: a turn
        // whose hold lapsed while a newer one collected did not store what it computed (turns.sql.ts).
        const collect = produced.collect?.changed && target.collect && collected ? collectUpdate(target.collect, collected.data, collected.completed) : null;
        return { conversationId, userMessage: plan.userMessage, reply, failure: produced.failure, collect, maxTokens: target.maxTokens };
      } finally {
        clearInterval(renew);
        (unwatch as (() => void) | null)?.();
        finish();
      }
    },
  };
}
