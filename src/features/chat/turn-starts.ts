// How a turn of Parley's own API starts, shared by send, the one-call chat and regenerate: the
// caller's limits, the content's checks, and begin() — lock the conversation, store the user
// message, read history and knowledge, in one statement.
import type { RateRule } from '../../config/parsers.js';
import { isDatabaseUnavailable } from '../../db/errors.js';
import { validationError, type AppError } from '../../errors/app-error.js';
import type { Jobs } from '../../jobs/jobs.js';
import type { Clock } from '../../lib/clock.js';
import { codePointLength, conversationTitle, isBlank } from '../../lib/text.js';
import { countTokens } from '../../llm/tokens.js';
import type { RateLimiter } from '../../rate-limit/rate-limiter.js';
import { audienceOf } from '../api-keys/end-user.js';
import type { Principal } from '../auth/principal.js';
import { conversationBusy, conversationNotFound } from '../conversations/conversations.service.js';
import { toMessage } from '../conversations/conversations.schemas.js';
import { toQueryTerms } from '../knowledge/search-text.js';
import { within, type Generations } from './generations.js';
import { STORE_RETRY_FOR_MS } from './reply-store.js';
import type { TurnPlan } from './turn-engine.js';
import type { BeginRequest, TurnBusy, TurnRefused, TurnsRepo, TurnTarget } from './turns.repo.js';
import { budgetSpent, type DailyMessageCap } from '../usage/quotas.js';

export const MESSAGE_OVERHEAD = 3;
export const KNOWLEDGE_CANDIDATES = 8;

/**
 * How long a turn waits for a reply this instance is ending in its conversation: one stopped, or
 * whose client left, is stored within about a second (turn-engine.ts, afterDisconnect).
 */
const ENDING_WAIT_MS = 2_000;
/**
 * How long a turn waits for a reply another instance is ending: a stop asked for here reaches it
 * within its stop poll (0.5 s, compose.ts), and it stores the reply as it would have here.
 */
const ENDING_ELSEWHERE_WAIT_MS = 3_000;
/** How often the hold of a reply being ended elsewhere is looked at meanwhile. */
const ENDING_POLL_MS = 50;

export interface TurnStartSettings {
  contextTokenBudget: number;
  maxMessageChars: number;
  messagesPerUser: RateRule | null;
  /** RATE_LIMIT_API_KEY_USER: turns per end user of a chatbot's keys. */
  messagesPerEndUser: RateRule | null;
  leaseMs: number;
}

export interface TurnStartDeps {
  turns: Pick<TurnsRepo, 'begin' | 'undoBegin' | 'holds'>;
  jobs: Pick<Jobs, 'retry'>;
  limiter: RateLimiter;
  /** USAGE_MESSAGES_PER_DAY for accounts. */
  dailyCap: DailyMessageCap;
  clock: Clock;
  newId: () => string;
  settings: TurnStartSettings;
  /** The replies running here: a turn waits for one being ended in its conversation. */
  generations?: Pick<Generations, 'ending'>;
}

export interface TurnStarts {
  /**
   * Counts the caller's own limits (throws when one is spent), then runs `start`, the turn's
   * start. A start that throws (not found, busy, budget spent…) gives back the day's message:
   * the day's cap counts turns that started, not requests refused.
   */
  admitted<T>(caller: Principal, start: () => Promise<T>): Promise<T>;
  /** 422 for an empty or too long message, named by `field`. */
  checkContent(field: string, content: string): void;
  begin(caller: Principal, id: string, request: BeginRequest, now: Date, thenToo?: () => Promise<void>): ReturnType<TurnsRepo['begin']>;
  /**
   * After a `busy` begin: waits while the reply holding the conversation is being ended (stopped,
   * or its client left) — by this instance, or by another one (the hold is marked so in the
   * database) — and says whether it is stored now, so begin may be tried again. useChat's stop()
   * aborts the request and a send may follow at once, to whichever instance: it is answered after
   * the stopped reply rather than refused 409 for the moment that reply takes to be stored. A
   * hold not being ended is not waited for.
   */
  ended(caller: Principal, id: string, refusal: TurnBusy): Promise<boolean>;
  /** Locks the conversation and stores the user message; refused (404/409) when it cannot. */
  beginSend(caller: Principal, id: string, input: { content: string; context?: string }, thenToo?: () => Promise<void>): Promise<{ target: TurnTarget; plan: TurnPlan }>;
}

export function refused(why: TurnRefused, now: Date): AppError {
  if (why.state === 'quota') return budgetSpent(why.budget, now);
  return why.state === 'busy' ? conversationBusy() : conversationNotFound();
}

/** A visitor's or a key end user's turns reach only their own conversations; an account's, only its own. */
export function audience(caller: Principal): BeginRequest['audience'] {
  const id = audienceOf(caller);
  return id === null ? null : { id, visitor: caller.kind === 'visitor' };
}

function userMessageOf(id: string, content: string, now: Date) {
  return toMessage({
    id,
    role: 'user',
    content,
    status: 'complete',
    createdAt: now,
    promptTokens: null,
    completionTokens: null,
    latencyMs: null,
    errorCode: null,
    feedbackRating: null,
    feedbackComment: null,
  });
}

/** What begin() is asked for a new user message: its row, the lock, and history and knowledge for it. */
function sendRequest(
  caller: Principal,
  message: { messageId: string; replyId: string; content: string; context: string | null; tokens: number },
  settings: TurnStartSettings,
): BeginRequest {
  const { messageId, replyId, content, context, tokens } = message;
  return {
    audience: audience(caller),
    lock: { replyId, leaseMs: settings.leaseMs },
    message: { id: messageId, content, tokens, title: conversationTitle(content), context },
    historyTokens: Math.max(0, settings.contextTokenBudget - tokens - MESSAGE_OVERHEAD),
    historyMinRows: 0,
    knowledgeQuery: toQueryTerms(content),
    knowledgeLimit: KNOWLEDGE_CANDIDATES,
  };
}

/**
 * Accounts' own limits; a key's end users have theirs (the key's own limit is counted with the
 * key); visitors are held by the public limits where their requests come in.
 */
function admitter({ limiter, dailyCap, clock, settings }: TurnStartDeps): TurnStarts['admitted'] {
  const messagesPolicy = { name: 'messages_user', rule: settings.messagesPerUser };
  const endUserPolicy = { name: 'api_key_user', rule: settings.messagesPerEndUser };
  return async (caller, start) => {
    if (caller.kind === 'visitor') return start();
    if (caller.kind === 'apiKey') {
      await limiter.consume(endUserPolicy, `${caller.chatbotId}:${caller.endUser ?? ''}`);
      return start();
    }
    await limiter.consume(messagesPolicy, caller.ownerId);
    const giveBack = await dailyCap.take(caller.ownerId, clock.now());
    try {
      return await start();
    } catch (error) {
      await giveBack();
      throw error;
    }
  };
}

/** Whether the hold of a reply being ended on another instance goes within ENDING_ELSEWHERE_WAIT_MS. */
async function released(turns: Pick<TurnsRepo, 'holds'>, userId: string, id: string, replyId: string): Promise<boolean> {
  const deadline = performance.now() + ENDING_ELSEWHERE_WAIT_MS;
  while (await turns.holds(userId, id, replyId)) {
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, ENDING_POLL_MS));
  }
  return true;
}

export function createTurnStarts(deps: TurnStartDeps): TurnStarts {
  const { turns, jobs, clock, newId, settings, generations } = deps;

  /**
   * begin(), for a turn the caller is told did not happen when the connection drops before its
   * answer (503). The statement may have committed all the same, holding the conversation for
   * the lease with a message nobody was shown: once the database answers, that start is taken
   * back if it happened, and `thenToo` runs (the one-call chat's new conversation goes too).
   */
  const begin: TurnStarts['begin'] = async (caller, id, request, now, thenToo) => {
    try {
      return await turns.begin(caller.ownerId, id, request, now);
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        const started = { replyId: request.lock.replyId, messageId: request.message?.id ?? null, title: request.message?.title ?? null };
        const undo = async () => {
          await turns.undoBegin(caller.ownerId, id, started);
          await thenToo?.();
        };
        jobs.retry('undo a turn start', undo, { retryIf: isDatabaseUnavailable, forMs: STORE_RETRY_FOR_MS });
      }
      throw error;
    }
  };

  const starts: TurnStarts = {
    admitted: admitter(deps),
    checkContent(field, content) {
      if (isBlank(content)) throw validationError(field, 'must not be empty');
      if (codePointLength(content) > settings.maxMessageChars) throw validationError(field, `must be at most ${settings.maxMessageChars} characters`);
    },
    begin,
    async ended(caller, id, refusal) {
      const here = generations?.ending(id);
      if (here) return within(here.then(() => true), ENDING_WAIT_MS);
      return refusal.ending ? released(turns, caller.ownerId, id, refusal.ending) : false;
    },
    async beginSend(caller, id, input, thenToo) {
      const tokens = countTokens(input.content);
      // Made again for a second try: the message is stored after the reply it waited for.
      const attempt = () => {
        const now = clock.now();
        // Ids are time-ordered and history is read in id order: the message must sort before its reply.
        const messageId = newId();
        const replyId = newId();
        const request = sendRequest(caller, { messageId, replyId, content: input.content, context: input.context ?? null, tokens }, settings);
        return begin(caller, id, request, now, thenToo).then((started) => ({ started, now, messageId, replyId }));
      };
      let tried = await attempt();
      if (tried.started.state === 'busy' && (await starts.ended(caller, id, tried.started))) tried = await attempt();
      const { started, now, messageId, replyId } = tried;
      if (started.state !== 'started') throw refused(started, now);
      const plan: TurnPlan = {
        replyId,
        message: input.content,
        messageTokens: tokens,
        turnContext: input.context ?? null,
        history: started.history,
        knowledge: started.knowledge,
        replaces: null,
        userMessage: userMessageOf(messageId, input.content, now),
      };
      return { target: started.target, plan };
    },
  };
  return starts;
}
