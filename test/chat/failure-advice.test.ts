// When the model fails, every channel told its caller to try again — "try again later" on the
// OpenAI endpoint, "try again" on the others — even when the provider had refused the request
// itself (a 400: a model that takes no temperature or stop sequences, a token limit it refuses),
// which the next try sends unchanged and which is refused again, and while the OpenAI endpoint's
// `x-should-retry: false` said the opposite. Now a refusal says so and what to look at, a spent
// provider quota says who can lift it, and a passing failure still says to try again.
import OpenAI, { APIError } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm, type Fault } from '../fake-llm/fake-llm.js';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createApiKey } from '../helpers/api-keys.js';
import { chattingUser, createChatbot, fakeLlmEnv, listen, sendMessage } from '../helpers/chat.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { client, collect, userMessage } from '../ai-sdk/clients.js';

let llm: FakeLlm;
let t: TestApp;
let base: string;

beforeAll(async () => {
  llm = await startFakeLlm();
  t = await createTestApp(fakeLlmEnv(llm.url));
  base = await listen(t);
});
afterEach(() => llm.reset());
afterAll(async () => {
  await t?.close();
  await llm?.close();
});

const REFUSED: Fault = { kind: 'status', status: 400, body: { error: { message: "Unsupported parameter: 'temperature'", type: 'invalid_request_error', code: 'unsupported_parameter' } } };
const PASSING: Fault = { kind: 'stream-error', afterChunks: 0 };

/** What the conversations API says when the model fails this way. */
async function nativeDetail(fault: Fault): Promise<string> {
  const { user, conversation } = await chattingUser(t);
  llm.fail(fault, fault, fault);
  const sent = await sendMessage(t, user, conversation.id, { content: 'Hello' });
  expect(sent.statusCode, sent.body).toBe(502);
  return json(sent).detail as string;
}

/** What the OpenAI SDK reports. */
async function openAiMessage(fault: Fault): Promise<string> {
  const owner = await registerUser(t);
  const bot = await createChatbot(t, owner, { name: 'Keyed' });
  const { key } = await createApiKey(t, owner, bot.id);
  llm.fail(fault, fault, fault);
  const error = await new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 }).chat.completions.create({ model: bot.slug, messages: [{ role: 'user', content: 'Hello' }] }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(APIError);
  return (error as APIError).message;
}

/** What useChat's transport reports. */
async function aiSdkText(fault: Fault): Promise<string> {
  const owner = await registerUser(t);
  llm.fail(fault, fault, fault);
  const chunks = await collect(await client('ai6', base, { headers: bearer(owner.accessToken) }).send({ chatId: `advice_${Date.now()}`, messages: [userMessage('Hello')] }));
  const error = chunks.find((chunk) => chunk.type === 'error');
  expect(error, JSON.stringify(chunks)).toBeDefined();
  return String(error!.errorText);
}

describe('a request the model provider refused', () => {
  it.each([
    ['the conversations API', nativeDetail],
    ['the OpenAI endpoint', openAiMessage],
    ['the AI SDK endpoint', aiSdkText],
  ])('%s says the provider refused it and that trying again will not help', async (_channel, said) => {
    const text = await said(REFUSED);
    expect(text).toMatch(/could not answer/);
    expect(text).toMatch(/refused/);
    expect(text).not.toMatch(/try again/i);
  });
});

describe('a failure that may pass', () => {
  it.each([
    ['the conversations API', nativeDetail],
    ['the OpenAI endpoint', openAiMessage],
    ['the AI SDK endpoint', aiSdkText],
  ])('%s still says to try again', async (_channel, said) => {
    expect(await said(PASSING)).toMatch(/try again/i);
  });
});

describe("the provider's quota spent", () => {
  it('says the server operator must raise it, not to try again', async () => {
    const text = await nativeDetail({ kind: 'quota' });
    expect(text).toMatch(/quota/);
    expect(text).not.toMatch(/try again/i);
  });
});
