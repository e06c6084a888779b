// The readers of one running reply on this instance share one look at the database. Each resumed
// stream used to read the reply's text every 150 ms by itself: one account opening 500 resumes
// of its own running reply made ~3,300 reads a second, and on the embedded database another
// account's turns went from 42 in 5 s to 2 (docs/decisions.md, "Many readers of one reply"). Now
// the first reader starts the looks, every reader is handed each one, and the looks stop with the
// reply or the last reader. A reply takes at most MAX_READERS on one instance: the streams hold a
// socket each, and the browser tabs of one person are far fewer.
import { AppError } from '../../errors/app-error.js';
import type { Message } from '../conversations/conversations.schemas.js';

export const MAX_READERS = 16;

/** What one look finds: the text so far, and the stored reply once there is one. */
export interface Seen {
  text: string;
  done: Message | null;
}

export interface Reader {
  /** Each look's finding, in order. */
  seen(seen: Seen): void;
  /** The reader left: it is handed nothing more, and its follow() resolves. */
  gone: AbortSignal;
}

export interface ReplyReaders {
  /**
   * Follows a reply for one reader, until the reply is stored (resolves), the reader leaves
   * (resolves) or a look fails (rejects, for every reader). `key` names the reply and who may
   * read it; `look` reads it once.
   */
  follow(key: string, look: () => Promise<Seen>, reader: Reader): Promise<void>;
  /** Throws 429 when the reply has as many readers as it takes: asked before a stream opens. */
  admit(key: string): void;
}

interface Following {
  resolve(): void;
  reject(error: unknown): void;
  reader: Reader;
}

const tooManyReaders = () =>
  new AppError('rate_limited', `This reply is already being read by ${MAX_READERS} streams on this server; close one and resume again`, {
    rateLimit: { policy: 'readers_per_reply', limit: MAX_READERS, windowSeconds: 1, remaining: 0, resetSeconds: 1 },
  });

export function createReplyReaders(options: { everyMs: number }): ReplyReaders {
  const watches = new Map<string, Set<Following>>();

  const sleep = () => new Promise((resolve) => setTimeout(resolve, options.everyMs));

  async function watch(key: string, readers: Set<Following>, look: () => Promise<Seen>) {
    try {
      while (readers.size > 0) {
        await sleep();
        if (readers.size === 0) break;
        const seen = await look();
        for (const following of readers) following.reader.seen(seen);
        if (seen.done) {
          for (const following of readers) following.resolve();
          break;
        }
      }
    } catch (error) {
      for (const following of readers) following.reject(error);
    } finally {
      readers.clear();
      watches.delete(key);
    }
  }

  return {
    follow(key, look, reader) {
      if (reader.gone.aborted) return Promise.resolve();
      const existing = watches.get(key);
      if (existing && existing.size >= MAX_READERS) return Promise.reject(tooManyReaders());
      const joined = existing ?? new Set<Following>();
      const followed = new Promise<void>((resolve, reject) => {
        const leave = () => {
          joined.delete(following);
          resolve();
        };
        const following: Following = {
          reader,
          resolve: () => (reader.gone.removeEventListener('abort', leave), resolve()),
          reject: (error) => (reader.gone.removeEventListener('abort', leave), reject(error)),
        };
        joined.add(following);
        reader.gone.addEventListener('abort', leave, { once: true });
      });
      if (!existing) {
        watches.set(key, joined);
        void watch(key, joined, look);
      }
      return followed;
    },
    admit(key) {
      if ((watches.get(key)?.size ?? 0) >= MAX_READERS) throw tooManyReaders();
    },
  };
}
