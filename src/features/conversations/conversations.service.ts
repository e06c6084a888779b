import { AppError, validationError } from '../../errors/app-error.js';
import { decodeCursor, isIsoTime, toPage, type Page } from '../../lib/pages.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import { explicitTitle, isBlank, unstorableText } from '../../lib/text.js';
import type { ConversationRow } from '../../db/schema.js';
import type { Principal } from '../auth/principal.js';
import type { ChatbotsService } from '../chatbots/chatbots.service.js';
import { audienceOf } from '../api-keys/end-user.js';
import { missingFields } from '../collection/collect-schema.js';
import type { ConversationsRepo, VisitorKey } from './conversations.repo.js';
import {
  toConversation,
  toMessage,
  type Conversation,
  type CreateConversationInput,
  type ListConversationsInput,
  type Message,
  type UpdateConversationInput,
} from './conversations.schemas.js';

export interface ConversationsService {
  create(caller: Principal, input: CreateConversationInput): Promise<ConversationRow>;
  /** The conversation a client's chat id names for this caller (AI SDK, §8), created on first use. */
  openClientChat(caller: Principal, chatId: string, input: { chatbot_id?: string }): Promise<Conversation>;
  /** The conversation a client's chat id names for this caller, or null when the id was never used (nothing is created). */
  findClientChat(caller: Principal, chatId: string): Promise<Conversation | null>;
  list(caller: Principal, query: ListConversationsInput): Promise<Page<Conversation>>;
  latest(caller: Principal): Promise<Conversation>;
  get(caller: Principal, id: string): Promise<Conversation>;
  update(caller: Principal, id: string, input: UpdateConversationInput): Promise<Conversation>;
  remove(caller: Principal, id: string): Promise<void>;
  /** Takes back a conversation just created for a turn that could not start, unless something is in it. */
  discardEmpty(caller: Principal, id: string): Promise<void>;
  clear(caller: Principal, id: string): Promise<void>;
  /** What the conversation has collected (§9): the values, the required keys still missing, and whether it is completed. */
  data(caller: Principal, id: string): Promise<{ data: Record<string, unknown>; missing: string[]; completed: boolean }>;
  messages(caller: Principal, id: string, query: { limit: number; cursor?: string }): Promise<Page<Message>>;
  feedback(caller: Principal, messageId: string, input: { rating: 'like' | 'dislike' | null; comment?: string | null }): Promise<Message>;
}

export const conversationNotFound = () => new AppError('not_found', 'No conversation with this id');
// The chatbot a conversation was being started in was deleted meanwhile.
const chatbotGone = () => new AppError('not_found', 'No chatbot with this id');
export const conversationBusy = () =>
  new AppError('conversation_busy', 'A reply is still being generated in this conversation; wait for it or stop it');

function checkTitle(title: string | null | undefined): string | null | undefined {
  if (typeof title !== 'string') return title;
  const checked = explicitTitle(title);
  if ('refused' in checked) throw validationError('title', checked.refused);
  return checked.title;
}

/** A visitor's or a key end user's conversations: who (api-keys/end-user.ts) on which chatbot. Undefined for an account. */
function audienceKey(caller: Principal): VisitorKey | undefined {
  const id = audienceOf(caller);
  return id === null ? undefined : { id, chatbotId: caller.chatbotId! };
}

const CLIENT_CHAT_ID_MAX = 200;

// The resume route takes the id in its path, where the body validator's text rule does not run.
function checkClientChatId(chatId: string) {
  if (typeof chatId !== 'string' || chatId.length === 0 || chatId.length > CLIENT_CHAT_ID_MAX || isBlank(chatId)) {
    throw validationError('id', `must be 1–${CLIENT_CHAT_ID_MAX} characters`);
  }
  const unusable = unstorableText(chatId);
  if (unusable) throw validationError('id', unusable);
}

type ConversationsServiceDeps = Parameters<typeof createConversationsService>[0];

async function owned(conversations: ConversationsRepo, caller: Principal, id: string): Promise<ConversationRow> {
  // A visitor or a key's end user reaches only their own conversations on their chatbot (the owner reads them all).
  const row = isUuid(id) ? await conversations.find(caller.ownerId, id.toLowerCase(), audienceKey(caller)) : undefined;
  if (!row) throw conversationNotFound();
  return row;
}

/** Starting conversations (and taking back one a turn could not use), and a client's chat ids. */
function createConversationStarts(deps: ConversationsServiceDeps): Pick<ConversationsService, 'create' | 'findClientChat' | 'openClientChat' | 'discardEmpty'> {
  const { conversations, chatbots, clock, newId } = deps;
  return {
    async create(caller, input) {
      const title = checkTitle(input.title) ?? null;
      const chatbot = await chatbots.resolve(caller, input.chatbot_id);
      const visitorId = audienceOf(caller);
      const row = await conversations.insert({ id: newId(), userId: caller.ownerId, chatbotId: chatbot.id, title, context: input.context ?? null, visitorId, endUser: caller.endUser }, clock.now());
      if (!row) throw chatbotGone();
      return row;
    },
    async findClientChat(caller, chatId) {
      checkClientChatId(chatId);
      const row = await conversations.findClientChat(caller.ownerId, audienceOf(caller), chatId);
      // A visitor's or key's: only on their chatbot.
      if (!row || (caller.chatbotId !== undefined && row.chatbotId !== caller.chatbotId)) return null;
      return toConversation(row);
    },
    async openClientChat(caller, chatId, input) {
      checkClientChatId(chatId);
      const chatbot = await chatbots.resolve(caller, input.chatbot_id);
      const row = { id: newId(), userId: caller.ownerId, chatbotId: chatbot.id, title: null, context: null, visitorId: audienceOf(caller), endUser: caller.endUser, clientChatId: chatId };
      const conversation = await conversations.openClientChat(row, clock.now());
      if (!conversation) throw chatbotGone();
      // The same chat id with another of the account's chatbots still names the one conversation it started.
      return toConversation(conversation);
    },
    async discardEmpty(caller, id) {
      await conversations.removeIfEmpty(caller.ownerId, id);
    },
  };
}

/** Pages of conversations, and one conversation as it is. */
function createConversationReads(deps: ConversationsServiceDeps): Pick<ConversationsService, 'list' | 'latest' | 'get'> {
  const { conversations, chatbots } = deps;
  return {
    async list(caller, query) {
      let chatbotId: string | undefined;
      if (query.chatbot_id !== undefined) chatbotId = (await chatbots.resolve(caller, query.chatbot_id)).id;
      const after = decodeCursor(query.cursor, [isIsoTime, isUuid]);
      const rows = await conversations.list(
        caller.ownerId,
        { chatbotId, status: query.status },
        query.limit,
        after ? [new Date(after[0]!), after[1]!] : null,
        audienceKey(caller),
      );
      return toPage(rows, query.limit, toConversation, (row) => [row.updatedAt.toISOString(), row.id]);
    },
    async latest(caller) {
      const [row] = await conversations.list(caller.ownerId, { status: 'active' }, 1, null, audienceKey(caller));
      if (!row) throw new AppError('not_found', 'You have no active conversation');
      return toConversation(row);
    },
    async get(caller, id) {
      return toConversation(await owned(conversations, caller, id));
    },
  };
}

/** Changing, deleting and clearing conversations. */
function createConversationChanges(deps: ConversationsServiceDeps): Pick<ConversationsService, 'update' | 'remove' | 'clear'> {
  const { conversations, clock } = deps;
  return {
    async update(caller, id, input) {
      const current = await owned(conversations, caller, id);
      const changes: Parameters<ConversationsRepo['update']>[2] = {};
      if (input.title !== undefined) changes.title = checkTitle(input.title) ?? null;
      if (input.status !== undefined) changes.status = input.status;
      if (input.context !== undefined) changes.context = input.context;
      // updated_at orders the list by activity: a PATCH that leaves every field as it was (a rename
      // saved unedited) is no activity, and writes nothing. (A verified user's visit is the
      // chatbot owner's row, which the update below refuses them whatever they send.)
      const unchanged = Object.entries(changes).every(([field, value]) => current[field as keyof typeof changes] === value);
      if (unchanged && current.userId === caller.ownerId) return toConversation(current);
      const row = await conversations.update(caller.ownerId, current.id, changes, clock.now());
      if (!row) throw conversationNotFound();
      return toConversation(row);
    },
    async remove(caller, id) {
      const row = await owned(conversations, caller, id);
      if (!(await conversations.remove(caller.ownerId, row.id))) throw conversationNotFound();
      deps.onRemoved?.(row.id);
    },
    async clear(caller, id) {
      const row = await owned(conversations, caller, id);
      const result = await conversations.clear(caller.ownerId, row.id, clock.now());
      if (result === 'busy') throw conversationBusy();
      if (result === 'gone') throw conversationNotFound();
    },
  };
}

/** What a conversation holds: collected data, messages, a reply's feedback. */
function createConversationContents(deps: ConversationsServiceDeps): Pick<ConversationsService, 'data' | 'messages' | 'feedback'> {
  const { conversations, chatbots } = deps;
  return {
    async data(caller, id) {
      const conversation = await owned(conversations, caller, id);
      // A verified user's visit is another tenant's chatbot: its collect is not theirs to read.
      const chatbot = await chatbots.get(caller, conversation.chatbotId).catch(() => null);
      const data = conversation.data ?? {};
      return { data, missing: missingFields(chatbot?.collect ?? null, data), completed: conversation.status === 'completed' };
    },
    async messages(caller, id, query) {
      const conversation = await owned(conversations, caller, id);
      const after = decodeCursor(query.cursor, [isUuid]);
      const rows = await conversations.messages(caller.ownerId, conversation.userId, conversation.id, query.limit, after ? after[0]!.toLowerCase() : null);
      return toPage(rows, query.limit, toMessage, (row) => [row.id]);
    },
    async feedback(caller, messageId, input) {
      const notFound = () => new AppError('not_found', 'No reply with this id');
      if (!isUuid(messageId)) throw notFound();
      const row = await conversations.setFeedback(caller.ownerId, messageId.toLowerCase(), input.rating, input.comment ?? null, audienceKey(caller));
      if (!row) throw notFound();
      return toMessage(row);
    },
  };
}

export function createConversationsService(deps: {
  conversations: ConversationsRepo;
  chatbots: ChatbotsService;
  clock: Clock;
  newId: () => string;
  /** A conversation was deleted: a reply this instance generates for it is read by nobody now. */
  onRemoved?: (conversationId: string) => void;
}): ConversationsService {
  return {
    ...createConversationStarts(deps),
    ...createConversationReads(deps),
    ...createConversationChanges(deps),
    ...createConversationContents(deps),
  };
}
