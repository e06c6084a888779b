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

/** The `sub` of the host's user token, read (not verified: the server does that) only to pick the key. */
function subjectOf(token: string | null): string {
  if (!token) return 'visitor';
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown; iss?: unknown };
    return `user:${String(payload.iss ?? '')}:${String(payload.sub ?? '')}`;
  } catch {
    return 'user:unknown';
  }
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
      store.setItem(key, JSON.stringify(saved));
      return saved;
    },
  };
}

export type Store = ReturnType<typeof openStore>;
