// The collector (§9): for each turn of a conversation whose chatbot collects, what the user's
// message adds to the conversation's data and what the reply must say. With the builtin
// responder it is a question-and-answer flow whose reply is said word for word; with a model, a
// structured extraction of what the user stated, validated here, and instructions that make the
// model's reply ask for what is still missing. Completion is decided by validation alone.
import type { Usage } from '../../llm/types.js';
import type { HistoryMessage, TurnTarget } from '../chat/turns.types.js';
import { applyExtracted } from './apply-extracted.js';
import { builtinCollectTurn } from './builtin-collector.js';
import { missingFields, type Collect } from './collect-schema.js';
import { collectInstructions } from './collect-instructions.js';
import { hasRequired, isComplete } from './validators.js';
import { emptyCollectState, type CollectState, type CollectUpdate } from './collect-state.js';
import type { Extractor } from './extraction.js';

export interface CollectStep {
  data: Record<string, unknown>;
  state: CollectState;
  /** The data changed (or the conversation completed) in this turn. */
  changed: boolean;
  completed: boolean;
  /** The builtin responder's reply, to be said as it is. */
  script: string | null;
  /** For a model: the collection part of the system prompt. */
  instructions: string | null;
  /** What the extraction call used (added to the turn's usage). */
  usage: Usage | null;
  /** The id of the `conversation.completed` event, should this turn complete the conversation. */
  eventId: string;
}

export interface CollectInput {
  target: TurnTarget;
  /** The user's new message; null when the last reply is regenerated. */
  message: string | null;
  /** Newest first, without the new message. */
  history: HistoryMessage[];
  model: string;
  signal: AbortSignal;
}

export interface Collector {
  /** Null when the turn collects nothing: no collect, a completed conversation, or no conversation. */
  step(input: CollectInput): Promise<CollectStep | null>;
}

export interface CollectorDeps {
  /** Null with the builtin responder, which asks for each field itself. */
  extractor: Extractor | null;
  newId: () => string;
}

const lastAssistant = (history: HistoryMessage[]) => history.find((message) => message.role === 'assistant' && message.content.length > 0)?.content ?? null;

/** What GET …/data answers and the `collect.update` event carries. */
export function collectUpdate(collect: Collect, data: Record<string, unknown>, completed: boolean): CollectUpdate {
  return { data, missing: missingFields(collect, data), completed };
}

export function createCollector(deps: CollectorDeps): Collector {
  const { extractor, newId } = deps;

  async function withModel(collect: Collect, input: CollectInput, extract: Extractor): Promise<CollectStep> {
    const { target, message } = input;
    let data = target.data;
    let state = target.collectState ?? emptyCollectState();
    let changed = false;
    let completed = isComplete(collect, data);
    let usage: Usage | null = null;
    if (message !== null) {
      const extracted = await extract.extract({ collect, data, lastAssistant: lastAssistant(input.history), userMessage: message, model: input.model, signal: input.signal });
      if (extracted) {
        usage = extracted.usage;
        const applied = applyExtracted({ collect, data, state: target.collectState, extracted: extracted.values, userText: message });
        ({ data, state, changed, completed } = applied);
      }
    }
    return { data, state, changed: changed || completed, completed, script: null, instructions: collectInstructions({ collect, data, state }), usage, eventId: newId() };
  }

  return {
    async step(input) {
      const { target } = input;
      const { collect } = target;
      if (!collect || target.completed || target.conversationId === null) return null;
      if (extractor) return withModel(collect, input, extractor);
      // The builtin responder asks only for required fields: with none, it answers as usual.
      if (!hasRequired(collect)) return null;
      const turn = builtinCollectTurn({ collect, data: target.data, state: target.collectState, message: input.message, greeting: target.greeting });
      return { data: turn.data, state: turn.state, changed: turn.changed || turn.completed, completed: turn.completed, script: turn.reply, instructions: null, usage: null, eventId: newId() };
    },
  };
}
