// What a visitor's browser keeps between page views and tabs, in the host site's localStorage:
// the visitor token, the conversation on screen and the earlier ones. Keyed by Parley server,
// chatbot and (with data-user-token) the host's user, so two users of one browser never share.
export interface SavedConversation {
  id: string;
  title: string;
  /** When it started, epoch ms. */
  at: number;
}

export interface Saved {
  label: string;
  token: string | null;
  expires: number;
  current: string | null;
  conversations: SavedConversation[];
}

const KEEP = 30;
const memory = new Map<string, string>();

type KeyValues = Pick<Storage, 'getItem' | 'setItem'>;
const inMemory: KeyValues = { getItem: (k) => memory.get(k) ?? null, setItem: (k, v) => void memory.set(k, v) };

function storage(): KeyValues {
  try {
    const probe = '__parley';
    localStorage.setItem(probe, probe);
    localStorage.removeItem(probe);
    return localStorage;
  } catch {
    // Storage off (private browsing, blocked cookies): the conversation lasts as long as the page.
    return inMemory;
  }
}

// Claims that name a user in the tokens Parley takes: the server reads `user_id` first, then
// `sub` (an issuers file may name another), and `parley token` mints `user_id` without `sub`.
const IDENTITY_CLAIMS = ['user_id', 'sub', 'uid', 'id', 'email', 'preferred_username', 'username'];
// Claims that change from one token of a user to the next.
const PER_TOKEN_CLAIMS = new Set(['exp', 'iat', 'nbf', 'jti', 'auth_time', 'nonce', 'at_hash', 'sid', 'session_state']);

/**
 * Who the host's user token names, read (not verified: the server does that) only to pick the
 * key. Every identity claim present is part of it, so two users differ in the key whichever of
 * them the server goes by; a token with none of them is keyed by all its lasting claims. Keyed by
 * `sub` alone, every user of an issuer whose tokens carry `user_id` shared one key, and the next
 * user of the browser was shown, and wrote into, the last one's conversation.
 */
function subjectOf(token: string | null): string {
  if (!token) return 'visitor';
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    const named = IDENTITY_CLAIMS.filter((claim) => payload[claim] !== undefined && payload[claim] !== null);
    const claims = named.length > 0 ? named : Object.keys(payload).filter((claim) => claim !== 'iss' && !PER_TOKEN_CLAIMS.has(claim)).sort();
    return `user:${JSON.stringify([payload.iss ?? '', ...claims.map((claim) => [claim, payload[claim]])])}`;
  } catch {
    // Unreadable: a key of its own, shared with no one who has a readable token.
    return `user:unreadable:${token}`;
  }
}

/**
 * JSON of the saved state whatever the host page did to arrays: Prototype.js 1.6 gives them a
 * `toJSON` that returns them already written, and JSON.stringify then writes each array as a
 * string (read back, the saved state looked foreign and was dropped on every read). The replacer
 * sees the value before its toJSON as `this[key]`, and gives the array itself back.
 */
function toJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, written: unknown) {
    const own = this[key];
    return Array.isArray(own) ? own : written;
  });
}

function randomLabel(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return 'web-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function openStore(api: string, chatbot: string, userToken: string | null) {
  // Opened on first use: the first touch of localStorage can take a while, and opening the
  // panel should not wait for it.
  let opened: KeyValues | undefined;
  const store = {
    getItem: (k: string) => (opened ??= storage()).getItem(k),
    setItem(k: string, v: string) {
      try {
        (opened ??= storage()).setItem(k, v);
      } catch {
        // The host's scripts filled the origin's quota: kept in the page from now on.
        opened = inMemory;
        inMemory.setItem(k, v);
      }
    },
  };
  const key = `parley:${api}:${chatbot.toLowerCase()}:${subjectOf(userToken)}`;
  const fresh = (): Saved => ({ label: randomLabel(), token: null, expires: 0, current: null, conversations: [] });

  function read(): Saved {
    try {
      const saved = JSON.parse(store.getItem(key) ?? 'null') as Saved | null;
      if (saved && typeof saved.label === 'string' && Array.isArray(saved.conversations)) {
        // An expired token opens nothing: start over rather than fail on the first request.
        return saved.expires > Date.now() ? saved : { ...fresh(), label: saved.label };
      }
    } catch {
      // Unreadable (another script wrote it): start over.
    }
    return fresh();
  }

  return {
    /** Read on every use, so a conversation started in another tab is seen here. */
    read,
    update(change: (saved: Saved) => void): Saved {
      const saved = read();
      change(saved);
      saved.conversations = saved.conversations.slice(0, KEEP);
      store.setItem(key, toJson(saved));
      return saved;
    },
  };
}

export type Store = ReturnType<typeof openStore>;
