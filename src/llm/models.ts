import type { LlmConfig } from '../config/llm-config.js';
import { createBuiltinModel, type Terms } from './builtin.js';
import { createRemoteModel } from './openai-compatible.js';
import type { ChatModel } from './types.js';

/** The model behind every reply, as configured by LLM_* (§6.3). */
export function createChatModel(config: LlmConfig, deps: { terms: Terms }): ChatModel {
  if (config.provider === 'builtin' || !config.baseUrl) return createBuiltinModel(deps.terms);
  return withStorableText(
    createRemoteModel({
      baseUrl: config.baseUrl,
      apiKey: config.apiKey,
      timeoutMs: config.timeoutMs,
      retry: { maxRetries: config.maxRetries, baseMs: config.retryBaseMs, maxDelayMs: 30_000 },
    }),
  );
}

const storable = (text: string) => (text.includes('\u0000') ? text.replaceAll('\u0000', '') : text);

/**
 * PostgreSQL refuses NUL in text, so a reply carrying one could never be stored. It is taken
 * out of every delta and of the whole text alike, so what a client streamed is what is stored.
 */
export function withStorableText(model: ChatModel): ChatModel {
  return {
    async generate(request, onDelta) {
      const forward = onDelta
        ? (delta: string) => {
            const clean = storable(delta);
            if (clean !== '') onDelta(clean);
          }
        : undefined;
      const answer = await model.generate(request, forward);
      return { ...answer, text: storable(answer.text) };
    },
  };
}
