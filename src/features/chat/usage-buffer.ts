// The usage of replies no conversation keeps (the OpenAI endpoint, §8), added up in memory and
// written a few times a second rather than once per call: one statement per owner, chatbot and
// day for every reply of the last moment. Only for chatbots without a monthly budget: a budget's
// next check must see the reply before its answer goes out, so those are written at once
// (turn-engine.ts). Shutdown writes what is pending; a crash may lose the last moment's counts,
// never a conversation (there is none).
import { isDatabaseUnavailable } from '../../db/errors.js';
import type { Jobs } from '../../jobs/jobs.js';

export interface UsageCount {
  userId: string;
  chatbotId: string;
  /** UTC day, YYYY-MM-DD. */
  day: string;
  messages: number;
  promptTokens: number;
  completionTokens: number;
}

export interface UsageBuffer {
  /** Counts one reply; a failed reply counts nothing (as a stored one). */
  add(userId: string, reply: { chatbotId: string; status: string; promptTokens: number | null; completionTokens: number | null }, now: Date): void;
  /** Writes everything counted so far. */
  flush(): Promise<void>;
}

export function createUsageBuffer(deps: {
  write: (count: UsageCount) => Promise<void>;
  jobs: Pick<Jobs, 'track' | 'retry'>;
  /** How long a count may wait to be written. */
  everyMs: number;
  /** How long a count is retried while the database is away. */
  retryForMs: number;
}): UsageBuffer {
  const { write, jobs } = deps;
  let pending = new Map<string, UsageCount>();
  let timer: NodeJS.Timeout | null = null;

  function writeOne(count: UsageCount): Promise<void> {
    return write(count).catch((error: unknown) => {
      if (!isDatabaseUnavailable(error)) throw error;
      jobs.retry('record usage', () => write(count), { retryIf: isDatabaseUnavailable, forMs: deps.retryForMs });
    });
  }

  async function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    if (pending.size === 0) return;
    const batch = [...pending.values()];
    pending = new Map();
    await Promise.all(batch.map(writeOne));
  }

  return {
    add(userId, reply, now) {
      // As add_usage (migrations/0039): a failed reply counts the tokens it took once the model
      // wrote any, never as a message; one the model never began counts nothing.
      const failed = reply.status === 'failed';
      if (failed && !((reply.completionTokens ?? 0) > 0)) return;
      const day = now.toISOString().slice(0, 10);
      const key = `${userId}|${reply.chatbotId}|${day}`;
      const count = pending.get(key) ?? { userId, chatbotId: reply.chatbotId, day, messages: 0, promptTokens: 0, completionTokens: 0 };
      if (!failed) count.messages += 1;
      count.promptTokens += reply.promptTokens ?? 0;
      count.completionTokens += reply.completionTokens ?? 0;
      pending.set(key, count);
      timer ??= setTimeout(() => jobs.track('record usage', flush()), deps.everyMs);
    },
    flush,
  };
}
