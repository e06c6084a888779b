// Model settings (§6.3): which provider, where, with which key and models.
import { ConfigError } from './errors.js';
import { ConfigValueError, parseEnum, parseHeaderToken, parseInteger, parseList, parseUrl } from './parsers.js';

export const LLM_PROVIDERS = ['builtin', 'openai', 'openrouter', 'groq', 'ollama', 'openai-compatible'] as const;
export type LlmProvider = (typeof LLM_PROVIDERS)[number];

export interface LlmConfig {
  provider: LlmProvider;
  /** OpenAI-compatible base URL (ends before /chat/completions); null for builtin. */
  baseUrl: string | null;
  apiKey: string | null;
  /** Default model for chatbots that name none. */
  model: string;
  /** Models a chatbot may choose. */
  models: string[];
  /** The longest wait for progress: the answer, or streaming the next chunk. */
  timeoutMs: number;
  /** The longest one attempt may take, progress or not (the model's default when absent: 600 s). */
  maxDurationMs?: number;
  maxRetries: number;
  retryBaseMs: number;
}

interface Preset {
  baseUrl: string | null;
  model: string | null;
  /** The seeds' own key variable for this provider, read when LLM_API_KEY is absent. */
  keyAlias: string | null;
  needsKey: boolean;
}

const PRESETS: Record<LlmProvider, Preset> = {
  builtin: { baseUrl: null, model: 'builtin', keyAlias: null, needsKey: false },
  openai: { baseUrl: 'https://api.openai.com/v1', model: 'gpt-4o-mini', keyAlias: 'OPENAI_API_KEY', needsKey: true },
  openrouter: { baseUrl: 'https://openrouter.ai/api/v1', model: 'openai/gpt-4o-mini', keyAlias: 'OPENROUTER_API_KEY', needsKey: true },
  groq: { baseUrl: 'https://api.groq.com/openai/v1', model: 'llama-3.1-8b-instant', keyAlias: 'GROQ_API_KEY', needsKey: true },
  ollama: { baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2', keyAlias: null, needsKey: false },
  'openai-compatible': { baseUrl: null, model: null, keyAlias: 'OPENAI_API_KEY', needsKey: false },
};

type Read = <T>(name: string, parse: (raw: string) => T, fallback: T) => T;

export function loadLlmConfig(read: Read): LlmConfig {
  const provider = read('LLM_PROVIDER', (raw) => parseEnum(raw, LLM_PROVIDERS), 'builtin' as LlmProvider);
  const preset = PRESETS[provider];
  const baseUrl = read('LLM_BASE_URL', (raw) => parseUrl(raw, ['http', 'https']).replace(/\/+$/, ''), preset.baseUrl);
  if (provider === 'openai-compatible' && !baseUrl) {
    throw new ConfigError('LLM_BASE_URL must be set when LLM_PROVIDER=openai-compatible (e.g. http://127.0.0.1:8080/v1)');
  }
  // The provider's own variable is read only when LLM_API_KEY is not set: otherwise it is not used.
  const ownKey = read('LLM_API_KEY', parseHeaderToken, null as string | null);
  const apiKey = ownKey ?? (preset.keyAlias ? read(preset.keyAlias, parseHeaderToken, null as string | null) : null);
  if (preset.needsKey && !apiKey) {
    throw new ConfigError(`LLM_API_KEY (or ${preset.keyAlias}) must be set when LLM_PROVIDER=${provider}`);
  }
  const model = read('LLM_MODEL', (raw) => raw.trim(), preset.model);
  if (!model) throw new ConfigError(`LLM_MODEL must be set when LLM_PROVIDER=${provider}`);
  const models = read('LLM_MODELS', nonEmptyList, [model]);
  const timeoutMs = read('LLM_TIMEOUT_MS', (raw) => parseInteger(raw, 100, 600_000), 60_000);
  const maxDurationMs = read('LLM_MAX_DURATION_MS', (raw) => parseInteger(raw, 1_000, 3_600_000), 600_000);
  if (maxDurationMs < timeoutMs) throw new ConfigError(`LLM_MAX_DURATION_MS (${maxDurationMs}) must be at least LLM_TIMEOUT_MS (${timeoutMs})`);
  return {
    provider,
    baseUrl: provider === 'builtin' ? null : baseUrl,
    apiKey: provider === 'builtin' ? null : apiKey,
    model,
    models: models.includes(model) ? models : [model, ...models],
    timeoutMs,
    maxDurationMs,
    maxRetries: read('LLM_MAX_RETRIES', (raw) => parseInteger(raw, 0, 10), 2),
    retryBaseMs: read('LLM_RETRY_BASE_MS', (raw) => parseInteger(raw, 1, 60_000), 500),
  };
}

function nonEmptyList(raw: string): string[] {
  const list = parseList(raw);
  if (list.length === 0) throw new ConfigValueError('a comma-separated list of model names');
  return list;
}
