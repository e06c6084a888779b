// Regenerate: answer the conversation's last user message again, replacing the reply it has.
import { AppError, validationError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import type { Principal } from '../auth/principal.js';
import { conversationNotFound } from '../conversations/conversations.service.js';
import type { KnowledgeSearch } from '../knowledge/knowledge.service.js';
import type { TurnEngine, TurnOptions, TurnResult } from './turn-engine.js';
import { audience, KNOWLEDGE_CANDIDATES, refused, type TurnStarts } from './turn-starts.js';
import type { TurnsRepo } from './turns.repo.js';

export interface RegenerateDeps {
  starts: Pick<TurnStarts, 'admitted' | 'begin' | 'ended'>;
  turns: Pick<TurnsRepo, 'release'>;
  knowledge: KnowledgeSearch;
  engine: TurnEngine;
  clock: Clock;
  newId: () => string;
  settings: { contextTokenBudget: number; leaseMs: number };
}

export function createRegenerate(deps: RegenerateDeps) {
  const { starts, turns, knowledge, engine, clock, newId, settings } = deps;

  return async function regenerate(caller: Principal, conversationId: string, options: TurnOptions = {}): Promise<TurnResult> {
    if (!isUuid(conversationId)) throw conversationNotFound();
    const id = conversationId.toLowerCase();
    const replyId = newId();
    // The last reply and the message it answers are read whatever their size.
    const plan = { historyTokens: settings.contextTokenBudget, historyMinRows: 2, knowledgeQuery: null, knowledgeLimit: 0 };
    const started = await starts.admitted(caller, async () => {
      const begin = (now: Date) => starts.begin(caller, id, { audience: audience(caller), lock: { replyId, leaseMs: settings.leaseMs }, message: null, ...plan }, now);
      let now = clock.now();
      let started = await begin(now);
      // The reply being stopped (useChat's stop(), then regenerate at once, on any instance) is the one replaced, once stored.
      if (started.state === 'busy' && (await starts.ended(caller, id, started))) started = await begin((now = clock.now()));
      if (started.state !== 'started') throw refused(started, now);
      return started;
    });
    const { history } = started;
    const replaced = history[0]?.role === 'assistant' ? history[0] : null;
    const rest = replaced ? history.slice(1) : history;
    const last = rest[0];
    if (!last || last.role !== 'user') {
      await turns.release(caller.ownerId, id, replyId);
      throw new AppError('nothing_to_regenerate', 'There is no message to answer again in this conversation');
    }
    if (options.replacing !== undefined && options.replacing !== replaced?.id && options.replacing !== last.id) {
      await turns.release(caller.ownerId, id, replyId);
      throw validationError('messageId', 'names an earlier message of this chat: only the last reply, or the message it answers, can be answered again');
    }
    // The message being answered again decides which knowledge applies: one more search.
    let knowledgeRows: Awaited<ReturnType<KnowledgeSearch['search']>> = [];
    try {
      if (started.target.knowledgeChunks > 0) knowledgeRows = await knowledge.search(caller.ownerId, started.target.chatbotId, last.content, KNOWLEDGE_CANDIDATES);
    } catch (error) {
      await turns.release(caller.ownerId, id, replyId).catch(() => {});
      throw error;
    }
    return engine.run(
      caller,
      started.target,
      { replyId, message: last.content, messageTokens: last.tokens, turnContext: last.context ?? null, history: rest.slice(1), knowledge: knowledgeRows, replaces: replaced?.id ?? null, userMessage: null },
      options,
    );
  };
}
