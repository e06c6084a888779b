// Model configuration (§1, §6.3, §12): providers and their presets, keys and the seeds' aliases,
// the allowed models, and the chat limits, each validated with one line naming the variable.
import { describe, expect, it } from 'vitest';
import type { ConfigError} from '../../src/config/config.js';
import { loadConfig, type Env } from '../../src/config/config.js';
import { configError } from '../helpers/config-error.js';


/** One line naming each variable as a whole word. */
function expectNames(error: ConfigError, ...variables: string[]): void {
  expect(error.message).not.toContain('\n');
  for (const variable of variables) expect(error.message).toMatch(new RegExp(`(^|[^A-Z_])${variable}([^A-Z_]|$)`));
}

const llm = (env: Env) => loadConfig(env).llm;
const SECRET = 'sk-live-0123456789abcdef-DO-NOT-PRINT';

describe('LLM provider and presets (§6.3)', () => {
  it('defaults to the offline builtin responder with the builtin model only', () => {
    expect(llm({})).toMatchObject({ provider: 'builtin', baseUrl: null, apiKey: null, model: 'builtin', models: ['builtin'] });
  });

  it.each([
    ['openai', 'https://api.openai.com/v1', 'gpt-4o-mini'],
    ['openrouter', 'https://openrouter.ai/api/v1', 'openai/gpt-4o-mini'],
    ['groq', 'https://api.groq.com/openai/v1', 'llama-3.1-8b-instant'],
    ['ollama', 'http://127.0.0.1:11434/v1', 'llama3.2'],
  ])('%s: the provider’s base URL and a default model', (provider, baseUrl, model) => {
    expect(llm({ LLM_PROVIDER: provider, LLM_API_KEY: 'k-1' })).toMatchObject({ provider, baseUrl, apiKey: 'k-1', model, models: [model] });
  });

  it('ollama needs no key', () => {
    expect(llm({ LLM_PROVIDER: 'ollama' })).toMatchObject({ provider: 'ollama', apiKey: null });
  });

  it('accepts the provider name in any case', () => {
    expect(llm({ LLM_PROVIDER: 'OpenAI', LLM_API_KEY: 'k' }).provider).toBe('openai');
  });

  it('LLM_BASE_URL overrides a preset, without a trailing slash', () => {
    expect(llm({ LLM_PROVIDER: 'ollama', LLM_BASE_URL: 'http://gpu-box:11434/v1/' }).baseUrl).toBe('http://gpu-box:11434/v1');
  });

  it('openai-compatible takes LLM_BASE_URL and LLM_MODEL, and needs no key', () => {
    expect(llm({ LLM_PROVIDER: 'openai-compatible', LLM_BASE_URL: 'http://127.0.0.1:8080/v1', LLM_MODEL: 'qwen' })).toMatchObject({
      provider: 'openai-compatible',
      baseUrl: 'http://127.0.0.1:8080/v1',
      apiKey: null,
      model: 'qwen',
      models: ['qwen'],
    });
  });

  it('openai-compatible without LLM_BASE_URL stops with a line naming LLM_BASE_URL', () => {
    expectNames(configError({ LLM_PROVIDER: 'openai-compatible', LLM_MODEL: 'qwen' }), 'LLM_BASE_URL');
  });

  it('openai-compatible without a model stops with a line naming LLM_MODEL', () => {
    expectNames(configError({ LLM_PROVIDER: 'openai-compatible', LLM_BASE_URL: 'http://127.0.0.1:8080/v1' }), 'LLM_MODEL');
  });

  it('an unknown LLM_PROVIDER stops with a line listing the choices', () => {
    const error = configError({ LLM_PROVIDER: 'anthropic' });
    expectNames(error, 'LLM_PROVIDER');
    for (const choice of ['builtin', 'openai', 'openrouter', 'groq', 'ollama', 'openai-compatible']) expect(error.message).toContain(choice);
  });

  it('LLM_BASE_URL must be an http(s) URL', () => {
    expectNames(configError({ LLM_PROVIDER: 'ollama', LLM_BASE_URL: 'not a url' }), 'LLM_BASE_URL');
    expectNames(configError({ LLM_PROVIDER: 'ollama', LLM_BASE_URL: 'ftp://models.example/v1' }), 'LLM_BASE_URL');
  });
});

describe('API keys and the seeds’ aliases (§1)', () => {
  it.each([
    ['openai', 'OPENAI_API_KEY'],
    ['openrouter', 'OPENROUTER_API_KEY'],
    ['groq', 'GROQ_API_KEY'],
  ])('%s without a key stops with a line naming LLM_API_KEY and %s', (provider, alias) => {
    expectNames(configError({ LLM_PROVIDER: provider }), 'LLM_API_KEY', alias);
  });

  it.each([
    ['openai', 'OPENAI_API_KEY'],
    ['openrouter', 'OPENROUTER_API_KEY'],
    ['groq', 'GROQ_API_KEY'],
  ])('%s reads its key from %s', (provider, alias) => {
    expect(llm({ LLM_PROVIDER: provider, [alias]: 'alias-key' }).apiKey).toBe('alias-key');
  });

  it('openai-compatible reads OPENAI_API_KEY too', () => {
    expect(llm({ LLM_PROVIDER: 'openai-compatible', LLM_BASE_URL: 'http://127.0.0.1:8080/v1', LLM_MODEL: 'm', OPENAI_API_KEY: 'oa' }).apiKey).toBe('oa');
  });

  it("never uses another provider's key", () => {
    expectNames(configError({ LLM_PROVIDER: 'openai', GROQ_API_KEY: 'gsk-1', OPENROUTER_API_KEY: 'or-1' }), 'LLM_API_KEY');
    expectNames(configError({ LLM_PROVIDER: 'groq', OPENAI_API_KEY: 'sk-1' }), 'LLM_API_KEY');
    expectNames(configError({ LLM_PROVIDER: 'openrouter', OPENAI_API_KEY: 'sk-1', GROQ_API_KEY: 'gsk-1' }), 'LLM_API_KEY');
    expect(llm({ LLM_PROVIDER: 'ollama', OPENAI_API_KEY: 'sk-1', GROQ_API_KEY: 'gsk-1' }).apiKey).toBeNull();
  });

  it('LLM_API_KEY wins over the alias; an empty one falls back to it', () => {
    expect(llm({ LLM_PROVIDER: 'openai', LLM_API_KEY: 'main', OPENAI_API_KEY: 'alias' }).apiKey).toBe('main');
    expect(llm({ LLM_PROVIDER: 'openai', LLM_API_KEY: '', OPENAI_API_KEY: 'alias' }).apiKey).toBe('alias');
  });

  it('the builtin responder keeps no key', () => {
    expect(llm({ LLM_API_KEY: 'k', OPENAI_API_KEY: 'sk' }).apiKey).toBeNull();
  });

  it('no error line shows a key, whatever else is wrong', () => {
    const keys = { LLM_API_KEY: SECRET, OPENAI_API_KEY: SECRET, OPENROUTER_API_KEY: SECRET, GROQ_API_KEY: SECRET };
    const broken: Env[] = [
      { ...keys, LLM_PROVIDER: 'anthropic' },
      { ...keys, LLM_PROVIDER: 'openai-compatible' },
      { ...keys, LLM_PROVIDER: 'openai-compatible', LLM_BASE_URL: 'http://127.0.0.1:8080/v1' },
      { ...keys, LLM_PROVIDER: 'openai', LLM_TIMEOUT_MS: 'soon' },
      { ...keys, LLM_PROVIDER: 'openai', LLM_MODELS: ' , ' },
      { OPENAI_API_KEY: SECRET, GROQ_API_KEY: SECRET, LLM_PROVIDER: 'openrouter' },
    ];
    for (const env of broken) expect(configError(env).message).not.toContain(SECRET);
  });
});

describe('models (§6.3, §12 Chatbots)', () => {
  it('OPENAI_MODEL is read as LLM_MODEL; LLM_MODEL wins when both are set', () => {
    expect(llm({ LLM_PROVIDER: 'openai', LLM_API_KEY: 'k', OPENAI_MODEL: 'gpt-4.1' })).toMatchObject({ model: 'gpt-4.1', models: ['gpt-4.1'] });
    expect(llm({ LLM_PROVIDER: 'openai', LLM_API_KEY: 'k', OPENAI_MODEL: 'gpt-4.1', LLM_MODEL: 'gpt-4o' }).model).toBe('gpt-4o');
  });

  it('LLM_MODELS is a trimmed list that always includes LLM_MODEL', () => {
    const base = { LLM_PROVIDER: 'openai', LLM_API_KEY: 'k', LLM_MODEL: 'gpt-4o' };
    expect(llm({ ...base, LLM_MODELS: ' gpt-4o-mini , gpt-4o ,' }).models).toEqual(['gpt-4o-mini', 'gpt-4o']);
    const models = llm({ ...base, LLM_MODELS: 'gpt-4o-mini,o3' }).models;
    expect(models).toContain('gpt-4o');
    expect(models).toEqual(expect.arrayContaining(['gpt-4o-mini', 'o3']));
    expect(models).toHaveLength(3);
  });

  it('an LLM_MODELS with no names stops with a line naming it', () => {
    expectNames(configError({ LLM_PROVIDER: 'openai', LLM_API_KEY: 'k', LLM_MODELS: ' , ' }), 'LLM_MODELS');
  });
});

describe('timeouts and retries', () => {
  it('defaults to a 60 s timeout and 2 retries', () => {
    expect(llm({})).toMatchObject({ timeoutMs: 60_000, maxRetries: 2 });
  });

  it('reads LLM_TIMEOUT_MS, LLM_MAX_RETRIES and LLM_RETRY_BASE_MS as integers', () => {
    expect(llm({ LLM_TIMEOUT_MS: '5000', LLM_MAX_RETRIES: '0', LLM_RETRY_BASE_MS: '250' })).toMatchObject({ timeoutMs: 5000, maxRetries: 0, retryBaseMs: 250 });
  });

  it.each([
    ['LLM_TIMEOUT_MS', 'soon'],
    ['LLM_TIMEOUT_MS', '5s'],
    ['LLM_TIMEOUT_MS', '0'],
    ['LLM_MAX_RETRIES', '-1'],
    ['LLM_MAX_RETRIES', 'many'],
    ['LLM_RETRY_BASE_MS', '0.5'],
  ])('%s=%s stops with a line naming it and what it expects', (variable, value) => {
    const error = configError({ [variable]: value });
    expectNames(error, variable);
    expect(error.message).toMatch(/integer between/);
  });
});

describe('chat limits (§2, §6.2, §12)', () => {
  it('defaults: 32,000 characters, an 8,000-token budget, 60 messages a minute, a 15 s heartbeat', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ maxMessageChars: 32_000, contextTokenBudget: 8000, sseHeartbeatMs: 15_000 });
    expect(config.rateLimits.messagesUser).toEqual({ limit: 60, windowMs: 60_000 });
  });

  it('reads each from its variable', () => {
    const config = loadConfig({ MAX_MESSAGE_CHARS: '500', CONTEXT_TOKEN_BUDGET: '16000', SSE_HEARTBEAT_MS: '1000', RATE_LIMIT_MESSAGES_USER: '5/10s' });
    expect(config).toMatchObject({ maxMessageChars: 500, contextTokenBudget: 16_000, sseHeartbeatMs: 1000 });
    expect(config.rateLimits.messagesUser).toEqual({ limit: 5, windowMs: 10_000 });
  });

  it('RATE_LIMIT_MESSAGES_USER=off turns the limit off', () => {
    expect(loadConfig({ RATE_LIMIT_MESSAGES_USER: 'off' }).rateLimits.messagesUser).toBeNull();
  });

  it.each([
    ['MAX_MESSAGE_CHARS', 'lots', /integer/],
    ['MAX_MESSAGE_CHARS', '0', /integer between 1 and/],
    ['CONTEXT_TOKEN_BUDGET', '-8000', /integer between/],
    ['CONTEXT_TOKEN_BUDGET', '8k', /integer/],
    ['SSE_HEARTBEAT_MS', 'fast', /integer/],
    ['SSE_HEARTBEAT_MS', '0', /integer between/],
    ['RATE_LIMIT_MESSAGES_USER', '60', /10\/1m/],
    ['RATE_LIMIT_MESSAGES_USER', 'unlimited', /off/],
  ])('%s=%s stops with a line naming it and what it expects', (variable, value, expects) => {
    const error = configError({ [variable]: value });
    expectNames(error, variable);
    expect(error.message).toMatch(expects);
  });
});
