// The AI SDK channel over the one turn engine: a `useChat` request becomes chat.send (or
// chat.regenerate) in the conversation the client's chat id names, written as UI message chunks;
// a resume follows the running reply through the database (chat.running / chat.follow), so any
// instance sharing the database can serve it and nothing is kept in memory between requests
// (the readers of one reply on an instance share their looks: reply-readers.ts).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError, validationError } from '../../errors/app-error.js';
import { loggableError } from '../../http/hooks.js';
import { isUuid } from '../../lib/ids.js';
import { toProblem } from '../../http/problem.js';
import { openEventStream, type EventStream, type Heartbeats } from '../../http/sse.js';
import type { Jobs } from '../../jobs/jobs.js';
import { failureAdvice } from '../../llm/failure-advice.js';
import type { Principal } from '../auth/principal.js';
import type { ChatService } from '../chat/chat.service.js';
import type { Generations } from '../chat/generations.js';
import type { TurnResult } from '../chat/turn-engine.js';
import type { TurnResponder } from '../chat/turn-responder.js';
import { conversationNotFound, type ConversationsService } from '../conversations/conversations.service.js';
import type { Message } from '../conversations/conversations.schemas.js';
import type { AiSdkChatInput, UiMessage } from './ai-sdk.schemas.js';
import { createReplyReaders, type Seen } from './reply-readers.js';
import { UI_MESSAGE_STREAM_HEADERS, uiMessageStream, writeDelta, writeError, writeFinish, writeStart } from './ui-message-stream.js';

export interface AiSdkDeps {
  chat: ChatService;
  conversations: ConversationsService;
  responder: TurnResponder;
  heartbeats: Heartbeats;
  jobs: Jobs;
  generations: Generations;
  /** How often a resumed stream looks for more text (the database is the only channel between instances). */
  followEveryMs?: number;
}

export interface AiSdkChat {
  /** POST /v1/ai-sdk/chat: a turn (or a regenerate) streamed as UI message chunks. */
  turn(request: FastifyRequest, reply: FastifyReply, caller: Principal, body: AiSdkChatInput): Promise<FastifyReply | void>;
  /** GET /v1/ai-sdk/chat/{id}/stream: the running reply from its start, or 204. */
  resume(request: FastifyRequest, reply: FastifyReply, caller: Principal, chatId: string): Promise<FastifyReply | void>;
  /** Shutdown: resumed streams of replies running elsewhere end now (they would hold the server open). */
  close(): void;
}

/** Between 100 and 250 ms: a reader sees text about as often as the writer stores it. */
const FOLLOW_EVERY_MS = 150;

/**
 * The new user message: the last of the client's messages, its text parts joined (a file part
 * refused, data parts ignored). The rest of
 * the client's history is advisory (the stored history is what the model sees), so client
 * `system` and `assistant` messages never reach the model.
 */
export function newUserText(messages: UiMessage[]): string {
  const last = messages.at(-1);
  if (!last || last.role !== 'user') throw validationError('messages', 'the last message must be the new user message');
  // Refused as /v1/chat/completions refuses an image part: an attachment dropped unread got an
  // answer as if none had been sent.
  const file = last.parts.findIndex((part) => part.type === 'file');
  if (file !== -1) throw validationError(`messages.${messages.length - 1}.parts.${file}`, 'files are not read: this chatbot reads text only');
  const text = last.parts
    .filter((part) => part.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text)
    .join('\n');
  if (text.trim() === '') throw validationError('messages', 'the new user message has no text');
  return text;
}

const shape = (result: TurnResult) => ({ conversation_id: result.conversationId, user_message: result.userMessage, reply: result.reply });

const failedText = (reply: Message) => `The model could not answer${reply.error ? ` (${reply.error})` : ''}. Your message was kept; ${failureAdvice(reply.error)}.`;

/** Readers of one reply share their looks only with callers of the same standing. */
const readerKey = (caller: Principal, conversationId: string, replyId: string) => [caller.kind, caller.ownerId, caller.actorId, caller.endUser ?? '', conversationId, replyId].join(' ');

/**
 * The stored message of the chat a regenerate names, if any. useChat names the message whose
 * button was pressed: a reply by the id Parley gave it, a user message by an id of the client's
 * own (unknown here, so the last one is answered again) or by its stored id when the chat was
 * loaded from the history.
 */
async function storedMessageNamed(chat: Pick<ChatService, 'follow'>, caller: Principal, conversationId: string, messageId: string | undefined): Promise<string | undefined> {
  if (messageId === undefined || !isUuid(messageId)) return undefined;
  const found = await chat.follow(caller, conversationId, messageId).catch((error: unknown) => {
    if (isAppError(error) && error.code === 'not_found') return null;
    throw error;
  });
  return found ? messageId.toLowerCase() : undefined;
}

export function createAiSdkChat(deps: AiSdkDeps): AiSdkChat {
  const { chat, conversations, responder, heartbeats, jobs, generations } = deps;
  const readers = createReplyReaders({ everyMs: deps.followEveryMs ?? FOLLOW_EVERY_MS });
  const closing = new AbortController();

  async function turn(request: FastifyRequest, reply: FastifyReply, caller: Principal, body: AiSdkChatInput) {
    const regenerate = body.trigger === 'regenerate-message';
    // Checked before anything is stored: a request refused here leaves nothing behind.
    const content = regenerate ? null : newUserText(body.messages);
    // A regenerate needs a reply to replace: a chat id never used names nothing (and creates nothing).
    const existing = content === null ? await conversations.findClientChat(caller, body.id) : null;
    if (content === null && !existing) throw conversationNotFound();
    // Read here, so that what runs as long as the reply keeps none of the body: the client's whole
    // history, of which only the last message is taken.
    const { id: chatId, chatbot_id } = body;
    // The request has no `content`: a refusal names the parts the text came from.
    const field = `messages.${body.messages.length - 1}.parts`;
    const replacing = content === null ? await storedMessageNamed(chat, caller, existing!.id, body.messageId) : undefined;
    return responder.respond(request, reply, { caller, streaming: true, shape, protocol: uiMessageStream }, (options) => {
      // `progress` keeps the text in the database while it streams: what a resume reads.
      const withProgress = { ...options, progress: true };
      if (content === null) return chat.regenerate(caller, existing!.id, { ...withProgress, replacing });
      return chat.sendInClientChat(caller, chatId, { content, chatbot_id, field }, withProgress);
    });
  }

  /**
   * Writes the reply's text as it grows in the database, until it is stored or the client leaves.
   * follow() refuses (404) a reply neither running nor stored (its instance died and the lease
   * lapsed): that ends the stream with an error rather than a wait forever. The looks are shared
   * with the reply's other readers here (reply-readers.ts).
   */
  async function follow(stream: EventStream, caller: Principal, conversationId: string, replyId: string, sent: number) {
    let done: Message | null = null;
    const look = async () => {
      if (closing.signal.aborted && !generations.replyIds().includes(replyId)) throw new AppError('service_unavailable', 'The server is shutting down; resume the stream to follow the reply');
      return chat.follow(caller, conversationId, replyId);
    };
    const seen = (found: Seen) => {
      const text = found.done ? found.done.content : found.text;
      if (text.length > sent) writeDelta(stream, replyId, text.slice(sent));
      sent = Math.max(sent, text.length);
      done = found.done;
    };
    await readers.follow(readerKey(caller, conversationId, replyId), look, { seen, gone: stream.clientGone });
    const stored = done as Message | null;
    if (!stored || stream.clientGone.aborted) return;
    return stored.status === 'failed' ? writeError(stream, failedText(stored)) : writeFinish(stream, conversationId, stored);
  }

  async function resumeStream(request: FastifyRequest, stream: EventStream, caller: Principal, conversationId: string, running: { replyId: string; text: string }) {
    try {
      writeStart(stream, running.replyId, conversationId);
      writeDelta(stream, running.replyId, running.text);
      await follow(stream, caller, conversationId, running.replyId, running.text.length);
    } catch (error) {
      const { problem, unexpected } = toProblem(error, request.id);
      if (unexpected) request.log.error({ error: loggableError(error) }, 'resuming a reply failed after streaming began');
      writeError(stream, String(problem.body.detail));
    } finally {
      stream.end();
    }
  }

  async function resume(request: FastifyRequest, reply: FastifyReply, caller: Principal, chatId: string) {
    // A chat id never used has nothing running: nothing is created for it.
    const conversation = await conversations.findClientChat(caller, chatId);
    const running = conversation ? await chat.running(caller, conversation.id) : null;
    if (!conversation || !running) return reply.code(204).send(null);
    readers.admit(readerKey(caller, conversation.id, running.replyId));
    const stream = openEventStream(request, reply, heartbeats, UI_MESSAGE_STREAM_HEADERS);
    const followed = resumeStream(request, stream, caller, conversation.id, running);
    // Shutdown waits for it, as for every stream, so it ends with its final chunks.
    jobs.track('stream', followed);
    return followed;
  }

  return { turn, resume, close: () => closing.abort() };
}
