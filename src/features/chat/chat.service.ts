// The chat turns of Parley's own API: send, one-call chat, regenerate and stop. Each starts a
// turn (lock the conversation, store the user message, read history and knowledge: one
// statement) and hands it to the turn engine, which calls the model and stores the reply.
import { AppError, validationError } from '../../errors/app-error.js';
import { isUuid } from '../../lib/ids.js';
import { handOver } from '../../lib/hand-over.js';
import type { Principal } from '../auth/principal.js';
import { conversationNotFound, type ConversationsService } from '../conversations/conversations.service.js';
import { toMessage, type Message } from '../conversations/conversations.schemas.js';
import type { KnowledgeSearch } from '../knowledge/knowledge.service.js';
import type { AnswersRepo } from './answers.repo.js';
import { createAnswer, type AnswerInput } from './chat-answer.js';
import { createRegenerate } from './chat-regenerate.js';
import type { Generations } from './generations.js';
import type { ReplyProgress } from './progress.repo.js';
import type { TurnEngine, TurnOptions, TurnResult } from './turn-engine.js';
import { createTurnStarts, type TurnStartDeps, type TurnStarts } from './turn-starts.js';
import type { TurnSlots } from './turn-slots.js';
import type { TurnsRepo } from './turns.repo.js';

export type { TurnEvents, TurnOptions, TurnResult } from './turn-engine.js';
export type { AnswerInput } from './chat-answer.js';

export interface ChatService {
  send(caller: Principal, conversationId: string, input: { content: string; context?: string }, options?: TurnOptions): Promise<TurnResult>;
  chat(
    caller: Principal,
    input: { message: string; conversation_id?: string; chatbot_id?: string; context?: string },
    options?: TurnOptions,
  ): Promise<TurnResult>;
  /**
   * A turn in the conversation a client's chat id names (the AI SDK channel), opened for it when
   * new. Refused before it starts, it leaves no conversation behind. `field`: where the content
   * is in the request, named when it is refused (default `content`).
   */
  sendInClientChat(caller: Principal, chatId: string, input: { content: string; chatbot_id?: string; field?: string }, options?: TurnOptions): Promise<TurnResult>;
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

/** What a turn's start needs (limits, the day's cap, begin()), and what the rest of the service does. */
export interface ChatDeps extends TurnStartDeps {
  turns: TurnsRepo;
  answers: AnswersRepo;
  progress: ReplyProgress;
  engine: TurnEngine;
  conversations: ConversationsService;
  knowledge: KnowledgeSearch;
  generations: Generations;
  /** Every turn, whichever channel starts it, holds one of these while it runs. */
  slots: TurnSlots;
}

/** A new user message, in a conversation given by id or in one opened for it. */
function createSends(deps: ChatDeps, starts: TurnStarts) {
  const { engine, conversations } = deps;

  async function send(caller: Principal, conversationId: string, input: { content: string; context?: string }, options: TurnOptions = {}) {
    starts.checkContent('content', input.content);
    if (!isUuid(conversationId)) throw conversationNotFound();
    const { target, plan } = await starts.admitted(caller, () => starts.beginSend(caller, conversationId.toLowerCase(), input));
    return engine.run(caller, target, plan, options);
  }

  /**
   * A turn in a conversation opened for it (new, or a client's chat id seen for the first time).
   * Everything that can refuse the turn is checked before the conversation is opened; should its
   * begin still fail, an empty conversation goes again, so a refused request leaves nothing behind.
   */
  async function inOpened(caller: Principal, open: () => Promise<{ id: string }>, input: { content: string; context?: string }, options: TurnOptions) {
    const begun = await starts.admitted(caller, async () => {
      const opened = await open();
      const discard = () => conversations.discardEmpty(caller, opened.id);
      try {
        return await starts.beginSend(caller, opened.id, input, discard);
      } catch (error) {
        await discard().catch(() => {});
        throw error;
      }
    });
    return engine.run(caller, begun.target, begun.plan, options);
  }

  return { send, inOpened };
}

export function createChatService(deps: ChatDeps): ChatService {
  const { turns, answers, progress, engine, conversations, knowledge, generations, slots, clock, newId, settings } = deps;
  const starts = createTurnStarts(deps);
  const regenerate = createRegenerate({ starts, turns, knowledge, engine, clock, newId, settings });
  const answer = createAnswer({ starts, answers, engine, clock, newId, settings });
  const { send, inOpened } = createSends(deps, starts);

  // A turn holds its place from before its limits are counted until its reply is stored.
  return {
    send: (caller, conversationId, input, options) => slots.hold(() => send(caller, conversationId, input, options)),
    sendInClientChat: (caller, chatId, input, options = {}) =>
      slots.hold(() => {
        starts.checkContent(input.field ?? 'content', input.content);
        return inOpened(caller, () => conversations.openClientChat(caller, chatId, { chatbot_id: input.chatbot_id }), { content: input.content }, options);
      }),
    regenerate: (caller, conversationId, options) => slots.hold(() => regenerate(caller, conversationId, options)),
    answer: (caller, input, options) => {
      // The caller's whole conversation: the slot's closure lives as long as the answer.
      const take = handOver(input);
      return slots.hold(() => answer(caller, take(), options));
    },
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
    chat(caller, input, options = {}) {
      return slots.hold(async () => {
        starts.checkContent('message', input.message);
        if (input.conversation_id === undefined) {
          const open = () => conversations.create(caller, { chatbot_id: input.chatbot_id });
          return inOpened(caller, open, { content: input.message, context: input.context }, options);
        }
        if (input.chatbot_id !== undefined) throw validationError('chatbot_id', 'give either conversation_id or chatbot_id, not both');
        return send(caller, input.conversation_id, { content: input.message, context: input.context }, options);
      });
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
