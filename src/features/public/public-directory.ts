// Which public chatbots exist, with what each public request needs to know before anything else:
// the owner (the tenant), and the origins a browser may call from. Every visitor request asks,
// so answers are kept for a short while (AUTH_CACHE_MS, like verified credentials); a change
// made on this instance is seen at once, one made on another within that time. The turn's own
// statement checks again that the chatbot is still public, so a cached answer never lets a
// visitor talk to a chatbot that was made private.
import type { ChatbotKey, PublicChatbotRow, PublicChatbotsRepo } from './public-chatbots.repo.js';

export interface PublicDirectory {
  find(key: ChatbotKey): Promise<PublicChatbotRow | undefined>;
  /** The public chatbot of a visitor's conversation. */
  ofConversation(conversationId: string): Promise<PublicChatbotRow | undefined>;
  /** A chatbot changed or went (called by the chatbots service on this instance). */
  forget(chatbot: { id: string; slug: string }): void;
  /**
   * An account changed (deactivated or active again, on any instance: revocations) or changes may
   * have been missed (null): every answer is read again, since the cache would otherwise show a
   * deactivated owner's chatbots for up to AUTH_CACHE_MS, and deactivation stops them at once (§3).
   */
  forgetOwners(): void;
}

const MAX_ENTRIES = 10_000;

export function createPublicDirectory(deps: { chatbots: PublicChatbotsRepo; cacheMs: number; now: () => number }): PublicDirectory {
  const { chatbots, cacheMs, now } = deps;
  const entries = new Map<string, { row: PublicChatbotRow | undefined; until: number }>();
  const keyOf = (key: ChatbotKey) => ('id' in key ? `id:${key.id}` : `slug:${key.slug}`);
  // A conversation never changes chatbot: which one it is on is kept (bounded), so preflights
  // for a conversation cost no query once it is known.
  const chatbotOf = new Map<string, string>();
  // Bumped by every forget: a read that began before a chatbot or an owner changed may have read
  // the old row and had its answer still on the way when the change was made; it is not kept.
  let epoch = 0;

  async function find(key: ChatbotKey) {
    const name = keyOf(key);
    const known = entries.get(name);
    if (known && known.until > now()) return known.row;
    const started = epoch;
    const row = await chatbots.find(key);
    if (cacheMs > 0 && started === epoch) {
      // Names an attacker invents must not grow the map without bound.
      if (entries.size >= MAX_ENTRIES) entries.clear();
      entries.set(name, { row, until: now() + cacheMs });
    }
    return row;
  }

  return {
    find,
    async ofConversation(conversationId) {
      let chatbotId = chatbotOf.get(conversationId);
      if (!chatbotId) {
        chatbotId = await chatbots.chatbotOfConversation(conversationId);
        if (!chatbotId) return undefined;
        if (chatbotOf.size >= MAX_ENTRIES) chatbotOf.clear();
        chatbotOf.set(conversationId, chatbotId);
      }
      return find({ id: chatbotId });
    },
    forget(chatbot) {
      epoch += 1;
      entries.delete(`id:${chatbot.id}`);
      entries.delete(`slug:${chatbot.slug}`);
      // Its former slug, if it had one.
      for (const [name, entry] of entries) if (entry.row?.id === chatbot.id) entries.delete(name);
    },
    forgetOwners() {
      // Account changes are rare (unlike logouts, which change no chatbot): dropping every answer
      // also drops the misses kept for a reactivated owner's chatbots, which name no owner.
      epoch += 1;
      entries.clear();
    },
  };
}
