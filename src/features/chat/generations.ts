// Replies being generated on this instance: so `stop` can end one, a client leaving can
// abort its own, a logout or a deactivation can end theirs, and shutdown can wait for them or
// store what they produced.

/** `signed_out`: the session that asked for the reply ended, or its user was deactivated. */
export type EndReason = 'client_left' | 'stopped' | 'signed_out' | 'shutdown';

/** Who a reply is generated for: the owner's user id, the Parley session that asked, if any, and the chatbot answering. */
export interface GeneratedFor {
  userId: string;
  sessionId: string | null;
  chatbotId?: string;
  /** For a public chatbot's visitor: the chatbot made private stops answering them. */
  visitor?: boolean;
  /** A visitor who is a host site's signed-in user: that user deactivated stops their replies too. */
  verifiedUser?: string;
}

/**
 * A session, a user, a chatbot (deleted: its conversations went with it), or a chatbot's visitors
 * (made private: closed to them, open still to its owner and its keys).
 */
export type Whose = { session: string } | { user: string } | { chatbot: string; visitorsOnly?: boolean };

function isFor(whose: Whose, by: GeneratedFor | null): boolean {
  if (by === null) return false;
  if ('session' in whose) return by.sessionId === whose.session;
  if ('user' in whose) return by.userId === whose.user || by.verifiedUser === whose.user;
  return by.chatbotId === whose.chatbot && (!whose.visitorsOnly || by.visitor === true);
}

export interface Generation {
  conversationId: string;
  replyId: string;
  for: GeneratedFor | null;
  controller: AbortController;
  /** Why the generation was aborted, if it was. */
  reason: EndReason | null;
  done: Promise<void>;
}

export interface Generations {
  start(conversationId: string, replyId: string, generatedFor?: GeneratedFor): { generation: Generation; finish(): void };
  /** Replies running here now. */
  replyIds(): string[];
  /** Aborts the generation of this reply if it runs here. */
  stopReply(replyId: string, reason: EndReason): boolean;
  /** Aborts the generation running in this conversation here; false when none runs here. */
  stop(conversationId: string, reason: EndReason): boolean;
  /**
   * The generation here in this conversation that was stopped (or whose client left) and is not
   * stored yet: settles once it is. Null when none is ending here.
   */
  ending(conversationId: string): Promise<void> | null;
  /** Aborts the generations running here for this session, user or chatbot; how many. */
  stopFor(whose: Whose, reason: EndReason): number;
  open(): number;
  /**
   * Waits up to `graceMs` for running generations, then aborts the rest and waits up to
   * `storeMs` more for them to be stored.
   */
  drain(graceMs: number, storeMs: number): Promise<void>;
}

/** The abort reasons, made once: when every client leaves at once, no stack trace per reply. */
const REASONS: Record<EndReason, Error> = {
  client_left: new Error('client_left'),
  stopped: new Error('stopped'),
  signed_out: new Error('signed_out'),
  shutdown: new Error('shutdown'),
};

export function createGenerations(): Generations {
  const running = new Map<string, Generation>();

  const abort = (generation: Generation, reason: EndReason) => {
    if (generation.controller.signal.aborted) return;
    generation.reason = reason;
    generation.controller.abort(REASONS[reason]);
  };

  return {
    start(conversationId, replyId, generatedFor) {
      let finish!: () => void;
      const done = new Promise<void>((resolve) => (finish = resolve));
      const generation: Generation = { conversationId, replyId, for: generatedFor ?? null, controller: new AbortController(), reason: null, done };
      running.set(conversationId, generation);
      return {
        generation,
        finish() {
          if (running.get(conversationId) === generation) running.delete(conversationId);
          finish();
        },
      };
    },
    stop(conversationId, reason) {
      const generation = running.get(conversationId);
      if (!generation) return false;
      abort(generation, reason);
      return true;
    },
    ending(conversationId) {
      const generation = running.get(conversationId);
      return generation && generation.reason !== null ? generation.done : null;
    },
    stopFor(whose, reason) {
      let stopped = 0;
      for (const generation of running.values()) {
        if (!isFor(whose, generation.for)) continue;
        abort(generation, reason);
        stopped += 1;
      }
      return stopped;
    },
    replyIds: () => [...running.values()].map((generation) => generation.replyId),
    stopReply(replyId, reason) {
      for (const generation of running.values()) {
        if (generation.replyId !== replyId) continue;
        abort(generation, reason);
        return true;
      }
      return false;
    },
    open: () => running.size,
    async drain(graceMs, storeMs) {
      if (running.size === 0) return;
      const all = () => Promise.all([...running.values()].map((g) => g.done)).then(() => true);
      if (await within(all(), graceMs)) return;
      for (const generation of running.values()) abort(generation, 'shutdown');
      await within(all(), storeMs);
    },
  };
}

/** Whether `work` ended within `ms`. */
export async function within(work: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
