import type { LlmConfig } from '../config/llm-config.js';
import { createBuiltinModel } from './builtin.js';
import { createRemoteModel } from './openai-compatible.js';
import type { ChatModel } from './types.js';

/** The model behind every reply, as configured by LLM_* (§6.3). */
export function createChatModel(config: LlmConfig): ChatModel {
  if (config.provider === 'builtin' || !config.baseUrl) return createBuiltinModel();
  return createRemoteModel({
    name: config.provider,
    baseUrl: config.baseUrl,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
    retry: { maxRetries: config.maxRetries, baseMs: config.retryBaseMs, maxDelayMs: 30_000 },
  });
}
