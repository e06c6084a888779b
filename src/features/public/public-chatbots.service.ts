import { isUuid } from '../../lib/ids.js';
import { SLUG_LIKE } from '../chatbots/chatbots.schemas.js';
import type { ChatbotKey, PublicChatbotRow } from './public-chatbots.repo.js';
import type { PublicChatbot } from './public-chatbots.schemas.js';

export interface PublicChatbotsService {
  /** What a public chatbot's page shows (the chatbot found by the public directory). */
  page(chatbot: PublicChatbotRow): PublicChatbot;
}

/**
 * An id-shaped key is an id and nothing else: a slug may look like an id (the slug rules allow
 * it), and must not stand in for the chatbot that has that id when that one is private or gone.
 */
export function chatbotKey(raw: string): ChatbotKey | null {
  if (isUuid(raw)) return { id: raw.toLowerCase() };
  if (SLUG_LIKE.test(raw)) return { slug: raw.toLowerCase() };
  return null;
}

/**
 * An external user's username may be their email (the claim used when the token has no username,
 * §3.2); a public page never shows an email, so such an owner goes unnamed on every public page.
 */
export const isShownName = (username: string): boolean => !username.includes('@');

const shownName = (username: string): string | null => (isShownName(username) ? username : null);

function toPublicChatbot(row: PublicChatbotRow, maxMessageChars: number): PublicChatbot {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    greeting: row.greeting,
    max_message_chars: maxMessageChars,
    owner: { username: shownName(row.ownerUsername) },
  };
}

export function createPublicChatbotsService(settings: { maxMessageChars: number }): PublicChatbotsService {
  return { page: (row) => toPublicChatbot(row, settings.maxMessageChars) };
}
