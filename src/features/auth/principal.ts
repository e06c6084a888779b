// Who is calling, whatever the channel: a signed-in user (own account or an external
// issuer's), and next a public chatbot's visitor or a chatbot API key. Services take this,
// never a user row. The tenant is always `ownerId`: the user who owns what the call reaches.
import type { UserRow } from '../../db/schema.js';

export type Role = UserRow['role'];

export type PrincipalKind = 'user' | 'visitor' | 'apiKey';

export interface Principal {
  kind: PrincipalKind;
  /** The tenant: row security and every repository key on this user. */
  ownerId: string;
  /** Who acts: the user's id, the visitor's id, or the key's id. */
  actorId: string;
  role: Role;
  /** For users: their username (names the default chatbot). */
  username: string;
  /** Visitors and keys reach one chatbot only. */
  chatbotId?: string;
  /** A key's chatbot's slug as the key was checked (`model` on the OpenAI endpoint may name it). */
  chatbotSlug?: string;
  /** The end user a key acts for (`user` in the request). */
  endUser?: string;
  /** A visitor who is a host site's signed-in user (§7): that user's id. */
  verifiedUser?: string;
  /** A Parley session; null for external users, visitors and keys. */
  sessionId: string | null;
  /**
   * A key taken from the recent lookups, not read again for this request: the statement that
   * starts the request's work must check that the key still exists and its owner is active, and
   * refuse otherwise. Only routes whose first statement does so are given such a principal.
   */
  keyCheck?: KeyCheck;
}

/** What a statement checks to know a key is still valid: its id and hash. */
export interface KeyCheck {
  keyId: string;
  hash: string;
}

/** A signed-in user acting for themself. */
export function userPrincipal(user: { id: string; username: string; role: Role }, sessionId: string | null): Principal {
  return { kind: 'user', ownerId: user.id, actorId: user.id, role: user.role, username: user.username, sessionId };
}

/** A public chatbot's visitor: acts in the chatbot owner's tenant, on their own conversations only. */
export function visitorPrincipal(claims: { visitor: string; chatbotId: string; ownerId: string; verifiedUser?: string }): Principal {
  const principal: Principal = { kind: 'visitor', ownerId: claims.ownerId, actorId: claims.visitor, role: 'user', username: '', chatbotId: claims.chatbotId, sessionId: null };
  return claims.verifiedUser ? { ...principal, verifiedUser: claims.verifiedUser } : principal;
}
