import { AppError, validationError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import { decodeCursor, isIsoTime, toPage, type Page } from '../../lib/pages.js';
import type { Principal } from '../auth/principal.js';
import type { ChatbotsService } from '../chatbots/chatbots.service.js';
import type { InboxEntry, InboxRepo } from './inbox.repo.js';
import { PREVIEW_CHARS, type InboxQueryInput, type InboxRow, type Read } from './inbox.schemas.js';

export interface InboxService {
  /** Visitors' conversations of one of the caller's chatbots, newest activity first (404 for a chatbot not theirs). */
  list(caller: Principal, chatbotId: string, query: InboxQueryInput): Promise<Page<InboxRow>>;
  /**
   * Marks a conversation read (unread_count 0, or up to the message the owner's page shows last, so
   * what the visitor sent since stays unread) and leaves its activity time, so the inbox keeps its
   * order. An account's own conversation (no visitor) has nothing unread: the same 200, harmless.
   */
  markRead(caller: Principal, conversationId: string, throughMessageId?: string): Promise<Read>;
}

export interface InboxDeps {
  inbox: InboxRepo;
  chatbots: ChatbotsService;
  /** Unused for now: reading changes no time. Kept so the inbox is built like its neighbours. */
  clock: Clock;
}

const conversationNotFound = () => new AppError('not_found', 'No conversation with this id');

/**
 * The inbox is the owner's. Visitors and API keys act in an owner's tenant (`ownerId`) but are not
 * that owner: they neither read it nor mark anything read.
 */
function ownerOf(caller: Principal): string {
  if (caller.kind !== 'user') throw new AppError('forbidden', "Only the chatbot's owner, signed in, reads its inbox");
  return caller.ownerId;
}

/** At most PREVIEW_CHARS code points, the "…" included. The query read at most one more than that. */
export function preview(content: string): { content: string; truncated: boolean } {
  const points = Array.from(content);
  if (points.length <= PREVIEW_CHARS) return { content, truncated: false };
  return { content: `${points.slice(0, PREVIEW_CHARS - 1).join('')}…`, truncated: true };
}

function toRow(entry: InboxEntry): InboxRow {
  const last = entry.lastMessage;
  return {
    conversation_id: entry.conversationId,
    visitor: { visitor_id: entry.visitorLabel, name: entry.visitorName },
    unread_count: entry.unreadCount,
    last_message: last ? { id: last.id, role: last.role, ...preview(last.content), created_at: last.createdAt.toISOString() } : null,
    updated_at: entry.updatedAt.toISOString(),
  };
}

export function createInboxService(deps: InboxDeps): InboxService {
  const { inbox, chatbots } = deps;

  return {
    async list(caller, chatbotId, query) {
      ownerOf(caller);
      const after = decodeCursor(query.cursor, [isIsoTime, isUuid]);
      // Throws the chatbots' own 404 for a malformed id or a chatbot not the caller's.
      const chatbot = await chatbots.resolve(caller, chatbotId);
      const rows = await inbox.list(caller.ownerId, chatbot.id, query.limit, after ? [new Date(after[0]!), after[1]!.toLowerCase()] : null, PREVIEW_CHARS);
      return toPage(rows, query.limit, toRow, (row) => [row.updatedAt.toISOString(), row.conversationId]);
    },
    async markRead(caller, conversationId, throughMessageId) {
      const userId = ownerOf(caller);
      if (!isUuid(conversationId)) throw conversationNotFound();
      const id = conversationId.toLowerCase();
      const left = await inbox.markRead(userId, id, throughMessageId?.toLowerCase());
      if (left === 'no_conversation') throw conversationNotFound();
      if (left === 'no_message') throw validationError('through_message_id', 'names no message of this conversation', { part: 'body' });
      return { conversation_id: id, unread_count: left };
    },
  };
}
