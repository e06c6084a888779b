import type { LlmConfig } from '../config/llm-config.js';
import { createBuiltinModel, type Terms } from './builtin.js';
import { createRemoteModel } from './openai-compatible.js';
import type { ChatModel } from './types.js';

/** The model behind every reply, as configured by LLM_* (§6.3). */
export function createChatModel(config: LlmConfig, deps: { terms: Terms }): ChatModel {
  if (config.provider === 'builtin' || !config.baseUrl) return createBuiltinModel(deps.terms);
  return createRemoteModel({
    baseUrl: config.baseUrl,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
    retry: { maxRetries: config.maxRetries, baseMs: config.retryBaseMs, maxDelayMs: 30_000 },
  });
}
