// One tenant per test file for the OpenAI-compatible endpoints: a fake LLM upstream, Parley on a
// real socket, an owner with a chatbot and an API key for it; plus raw HTTP helpers that read
// exactly what a client receives (status, headers, every SSE frame).
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { startFakeLlm, type FakeLlm, type FakeLlmOptions } from '../fake-llm/fake-llm.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { createChatbot, fakeLlmEnv, listen } from '../helpers/chat.js';
import { bearer, registerUser, type RegisteredUser } from '../helpers/factories.js';

export const SYSTEM_PROMPT = 'You are the front desk of the Harbour Hotel. Always sign as Harbour.';

export interface Stage {
  llm: FakeLlm;
  t: TestApp;
  /** http://127.0.0.1:port (no /v1). */
  base: string;
  owner: RegisteredUser;
  bot: { id: string; slug: string; model: string };
  key: { id: string; key: string; prefix: string };
  close(): Promise<void>;
}

export async function openAiStage(env: Record<string, string> = {}, options: { chatbot?: Record<string, unknown>; llm?: FakeLlmOptions } = {}): Promise<Stage> {
  const llm = await startFakeLlm(options.llm);
  const t = await createTestApp(fakeLlmEnv(llm.url, { LLM_MAX_RETRIES: '0', LLM_MODELS: 'fake-model,fake-model-mini', ...env }));
  const base = await listen(t);
  const owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Harbour desk', system_prompt: SYSTEM_PROMPT, ...options.chatbot });
  const key = await createApiKey(t, owner.accessToken, bot.id);
  return {
    llm,
    t,
    base,
    owner,
    bot,
    key,
    async close() {
      await t.close();
      await llm.close();
    },
  };
}

/** The official client on Parley; no retries unless a test asks for them. */
export function sdk(stage: Pick<Stage, 'base'>, apiKey: string, options: ConstructorParameters<typeof OpenAI>[0] = {}): OpenAI {
  return new OpenAI({ baseURL: `${stage.base}/v1`, apiKey, maxRetries: 0, ...options });
}

export interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export function post(stage: Pick<Stage, 'base'>, token: string | null, body: unknown, path = '/v1/chat/completions'): Promise<RawAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(token ? bearer(token) : {}) };
  return read(fetch(`${stage.base}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) }));
}

export function get(stage: Pick<Stage, 'base'>, token: string | null, path: string): Promise<RawAnswer> {
  return read(fetch(`${stage.base}${path}`, { headers: token ? bearer(token) : {} }));
}

async function read(pending: Promise<Response>): Promise<RawAnswer> {
  const response = await pending;
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: response.status, headers: response.headers, text, json: parsed };
}

/** The `data:` frames of an event stream, in order (comments dropped); `[DONE]` stays a string. */
export function frames(text: string): unknown[] {
  const out: unknown[] = [];
  for (const block of text.split('\n\n')) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => line.slice(6))
      .join('\n');
    if (!data) continue;
    out.push(data === '[DONE]' ? data : JSON.parse(data));
  }
  return out;
}

/** An answer in OpenAI's error shape (never problem+json), with the given status and code. */
export function expectOpenAiError(answer: RawAnswer, status: number, code: string, type?: string) {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(answer.json)).toEqual(['error']);
  expect(Object.keys(answer.json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(answer.json.error.code).toBe(code);
  expect(typeof answer.json.error.message).toBe('string');
  if (type) expect(answer.json.error.type).toBe(type);
  expect(answer.headers.get('x-request-id')).toBeTruthy();
  return answer.json.error as { message: string; type: string; param: string | null; code: string };
}

export type Usage = { date: string; messages: number; prompt_tokens: number; completion_tokens: number };

/** The owner's usage summed over every day: messages and tokens. */
export async function usageTotals(stage: Pick<Stage, 't' | 'owner'>): Promise<{ messages: number; tokens: number }> {
  const response = await stage.t.request({ method: 'GET', url: '/v1/usage', headers: bearer(stage.owner.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  const days = response.json().data as Usage[];
  return days.reduce((sum, day) => ({ messages: sum.messages + day.messages, tokens: sum.tokens + day.prompt_tokens + day.completion_tokens }), { messages: 0, tokens: 0 });
}

/** openAiStage for one test file: started before its first test, the fake model reset after each, closed at the end. */
export function useOpenAiStage(...args: Parameters<typeof openAiStage>): Stage {
  const stage = {} as Stage;
  beforeAll(async () => {
    Object.assign(stage, await openAiStage(...args));
  });
  afterEach(() => stage.llm.reset());
  afterAll(async () => {
    await stage.close?.();
  });
  return stage;
}
