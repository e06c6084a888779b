import type { LlmConfig } from '../config/llm-config.js';
import { createBuiltinModel, type SmallWord, type Terms } from './builtin.js';
import { createRemoteModel } from './openai-compatible.js';
import { createStructuredOutput } from './structured.js';
import type { ChatModel } from './types.js';

/**
 * The model behind every reply, as configured by LLM_* (§6.3). `terms` and `smallWord` are the
 * knowledge search's own, so the builtin responder reads a question as the search did.
 */
export function createChatModel(config: LlmConfig, deps: { terms: Terms; smallWord: SmallWord }): ChatModel {
  if (config.provider === 'builtin' || !config.baseUrl) return createBuiltinModel(deps.terms, deps.smallWord);
  const settings = {
    baseUrl: config.baseUrl,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
    ...(config.maxDurationMs !== undefined ? { maxDurationMs: config.maxDurationMs } : {}),
    retry: { maxRetries: config.maxRetries, baseMs: config.retryBaseMs, maxDelayMs: 30_000 },
  };
  return withStorableText({ ...createRemoteModel(settings), extract: createStructuredOutput(settings) });
}

const storable = (text: string) => (text.includes('\u0000') ? text.replaceAll('\u0000', '') : text);

/**
 * PostgreSQL refuses NUL in text, so a reply carrying one could never be stored. It is taken
 * out of every delta and of the whole text alike, so what a client streamed is what is stored;
 * and out of every string of an extracted value.
 */
export function withStorableText(model: ChatModel): ChatModel {
  return {
    // Not async: an async frame would keep the request, the whole prompt, for as long as a stream runs.
    generate(request, onDelta) {
      const forward = onDelta
        ? (delta: string) => {
            const clean = storable(delta);
            if (clean !== '') onDelta(clean);
          }
        : undefined;
      return model.generate(request, forward).then((answer) => ({ ...answer, text: storable(answer.text) }));
    },
    ...(model.extract ? { extract: storableExtract(model.extract.bind(model)) } : {}),
  };
}

/** Extracted values are stored as JSON, and PostgreSQL refuses NUL there too. */
function storableValue(value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.map(storableValue);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [storable(key), storableValue(inner)]));
  }
  return value;
}

function storableExtract(extract: NonNullable<ChatModel['extract']>): NonNullable<ChatModel['extract']> {
  return async (request) => {
    const answer = await extract(request);
    return { ...answer, value: storableValue(answer.value) };
  };
}
