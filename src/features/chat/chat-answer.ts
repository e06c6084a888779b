// A turn that stores no conversation: the client sends the whole conversation each time (the
// OpenAI endpoint). The chatbot's prompt, knowledge, usage and budget apply all the same.
import { AppError, validationError } from '../../errors/app-error.js';
import type { Clock } from '../../lib/clock.js';
import { isUuid } from '../../lib/ids.js';
import { isBlank } from '../../lib/text.js';
import { countTokens, countTokensWithin, MESSAGE_OVERHEAD_TOKENS } from '../../llm/tokens.js';
import type { Principal } from '../auth/principal.js';
import { toQueryTerms } from '../knowledge/search-text.js';
import type { AnswersRepo } from './answers.repo.js';
import type { TurnEngine, TurnOptions, TurnResult } from './turn-engine.js';
import { KNOWLEDGE_CANDIDATES, type TurnStarts } from './turn-starts.js';
import type { HistoryMessage } from './turns.repo.js';
import { budgetSpent } from '../usage/quotas.js';

export interface AnswerInput {
  chatbotId: string;
  /** The slug the caller named the chatbot by, if it did: refused as not found when it is no longer the chatbot's. */
  slug?: string | null;
  /** A model the server allows; null for the chatbot's own. */
  model: string | null;
  messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }>;
  temperature?: number | null;
  maxTokens?: number | null;
  /** The answer ends before the first of these. */
  stop?: readonly string[] | null;
}

const chatbotNotFound = () => new AppError('not_found', 'No chatbot with this id');

export interface AnswerDeps {
  starts: Pick<TurnStarts, 'admitted' | 'checkContent'>;
  answers: Pick<AnswersRepo, 'start'>;
  engine: TurnEngine;
  clock: Clock;
  newId: () => string;
  settings: { contextTokenBudget: number };
}

/**
 * The client's `system` messages, which the prompt always carries whole: refused when they alone
 * are more than the budget (§6.2: the tokens sent per turn stay bounded), as a provider refuses
 * a prompt past its context. Counted only as far as the budget, and never cached (each call's differ).
 */
function callerInstructions(messages: AnswerInput['messages'], budget: number) {
  const parts = messages.filter((m) => m.role === 'system' && !isBlank(m.content)).map((m) => m.content.trim());
  if (parts.length === 0) return { instructions: null, instructionsTokens: 0 };
  const instructions = parts.join('\n\n');
  const instructionsTokens = countTokensWithin(instructions, budget);
  if (instructionsTokens > budget) {
    throw validationError('messages', `the system messages are more than the ${budget} tokens a prompt may hold (CONTEXT_TOKEN_BUDGET)`, {
      detail: 'The prompt is too long for this chatbot',
    });
  }
  return { instructions, instructionsTokens };
}

/** A call may ask for fewer tokens than its chatbot allows a reply, never more: the owner's cost bound. */
const ceiling = (asked: number | null, chatbot: number | null) => (asked === null ? chatbot : chatbot === null ? asked : Math.min(asked, chatbot));

export function createAnswer(deps: AnswerDeps) {
  const { starts, answers, engine, clock, newId } = deps;
  const budget = deps.settings.contextTokenBudget;

  /** The client's conversation as the prompt's history (newest first) and its own instructions. */
  function clientConversation(messages: AnswerInput['messages']) {
    const last = messages.at(-1);
    if (!last || last.role !== 'user') throw validationError('messages', 'the last message must be the user\'s');
    starts.checkContent(`messages.${messages.length - 1}.content`, last.content);
    const instructions = callerInstructions(messages, budget);
    const history: HistoryMessage[] = [];
    // Counted newest first, each only as far as the budget left: what is past it can never be in
    // the prompt (buildPrompt stops at the first message that does not fit), and counting a whole
    // 1 MiB body of space-less text held the event loop for a quarter of a second. Older
    // messages stay in the history (the collector reads the last assistant message), never fitting.
    let counted = instructions.instructionsTokens;
    for (let i = messages.length - 2; i >= 0; i--) {
      const m = messages[i]!;
      if (m.role === 'system' || isBlank(m.content)) continue;
      const tokens = counted > budget ? Number.POSITIVE_INFINITY : countTokensWithin(m.content, budget - counted);
      counted += tokens + MESSAGE_OVERHEAD_TOKENS;
      history.push({ id: '', role: m.role, content: m.content, status: 'complete', tokens });
    }
    return { last, history, ...instructions };
  }

  return async function answer(caller: Principal, input: AnswerInput, options: TurnOptions = {}): Promise<TurnResult> {
    const { last, history, instructions, instructionsTokens } = clientConversation(input.messages);
    if (!isUuid(input.chatbotId) || (caller.chatbotId !== undefined && caller.chatbotId !== input.chatbotId.toLowerCase())) throw chatbotNotFound();
    const started = await starts.admitted(caller, async () => {
      const now = clock.now();
      const search = { query: toQueryTerms(last.content), limit: KNOWLEDGE_CANDIDATES };
      const started = await answers.start(caller.ownerId, input.chatbotId.toLowerCase(), search, now, caller.keyCheck);
      if (started.state === 'key_refused') throw new AppError('invalid_token', 'The API key is not valid');
      if (started.state !== 'started') throw started.state === 'quota' ? budgetSpent(started.budget, now) : chatbotNotFound();
      if (input.slug != null && input.slug !== started.slug) throw chatbotNotFound();
      return started;
    });
    const target = {
      ...started.target,
      model: input.model ?? started.target.model,
      temperature: input.temperature ?? started.target.temperature,
      maxTokens: ceiling(input.maxTokens ?? null, started.target.maxTokens),
      stop: input.stop ?? null,
    };
    const plan = {
      replyId: newId(),
      message: last.content,
      messageTokens: countTokens(last.content),
      turnContext: null,
      history,
      knowledge: started.knowledge,
      replaces: null,
      userMessage: null,
      callerInstructions: instructions,
      callerInstructionsTokens: instructionsTokens,
      countBeforeAnswer: started.budgeted,
    };
    return engine.run(caller, target, plan, options);
  };
}
