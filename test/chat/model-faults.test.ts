// Model failures as a user sees them (§6, §6.1, §6.3, §12 Streaming): retries with backoff and
// Retry-After, timeouts, 502 llm_unavailable or an SSE `error`, the user message kept and the
// reply stored `failed`, usage and latency recorded per reply.
import { countTokens } from 'gpt-tokenizer';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, json, type TestApp } from '../helpers/app.js';
import { createChatbot, createConversation, chattingUser, fakeLlmEnv, listen, parseSse, sendMessage, type SseEvent } from '../helpers/chat.js';
import { bearer, type RegisteredUser } from '../helpers/factories.js';
import { startFakeLlm, type FakeLlm, type RecordedRequest } from '../fake-llm/fake-llm.js';

let fake: FakeLlm;
/** LLM_MAX_RETRIES=2 (1 call + 2 retries), backoff base 10 ms. */
let t: TestApp;
/** LLM_TIMEOUT_MS=300, LLM_MAX_RETRIES=1. */
let slow: TestApp;
/** Points at a closed port: every call is a network error. */
let unreachable: TestApp;
/** Streaming goes through a real socket: the SSE body as a client receives it. */
const bases = new Map<TestApp, string>();

beforeAll(async () => {
  fake = await startFakeLlm();
  [t, slow, unreachable] = await Promise.all([
    createTestApp(fakeLlmEnv(fake.url, { LLM_MAX_RETRIES: '2', LLM_MODELS: 'fake-model,fancy-model' })),
    createTestApp(fakeLlmEnv(fake.url, { LLM_TIMEOUT_MS: '300', LLM_MAX_RETRIES: '1' })),
    createTestApp(fakeLlmEnv('http://127.0.0.1:9/v1', { LLM_MAX_RETRIES: '1' })),
  ]);
  for (const app of [t, slow, unreachable]) bases.set(app, await listen(app));
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await Promise.all([t?.close(), slow?.close(), unreachable?.close()]);
  await fake?.close();
});

const MESSAGE = 'please tell me about the weather in Lisbon tomorrow';
const FULL_REPLY = `You said: ${MESSAGE}`;

async function listMessages(app: TestApp, user: RegisteredUser, conversationId: string) {
  const response = await app.request({ method: 'GET', url: `/v1/conversations/${conversationId}/messages`, headers: bearer(user.accessToken) });
  expect(response.statusCode, response.body).toBe(200);
  return json(response).data as Array<Record<string, any>>;
}

/** The stored conversation holds the user's message and, after it, the reply with this status. */
async function expectStoredTurn(app: TestApp, user: RegisteredUser, conversationId: string, status: string) {
  const messages = await listMessages(app, user, conversationId);
  expect(messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  expect(messages[0]).toMatchObject({ role: 'user', content: MESSAGE, status: 'complete' });
  expect(messages[1]!.status).toBe(status);
  return messages[1]!;
}

function expectLlmUnavailable(response: LightMyRequestResponse) {
  expect(response.statusCode, response.body).toBe(502);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json(response);
  expect(body).toMatchObject({ status: 502, code: 'llm_unavailable' });
  expect(typeof body.detail).toBe('string');
  return body;
}

interface Streamed {
  status: number;
  contentType: string | null;
  body: string;
}

/** Sends a message with stream:true over HTTP and reads the answer to its end. */
async function streamMessage(app: TestApp, user: RegisteredUser, conversationId: string, content = MESSAGE): Promise<Streamed> {
  const response = await fetch(`${bases.get(app)}/v1/conversations/${conversationId}/messages`, {
    method: 'POST',
    headers: { ...bearer(user.accessToken), 'content-type': 'application/json' },
    body: JSON.stringify({ content, stream: true }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, contentType: response.headers.get('content-type'), body: await response.text() };
}

function expectStream(response: Streamed): SseEvent[] {
  expect(response.status, response.body).toBe(200);
  expect(response.contentType).toMatch(/^text\/event-stream/);
  return parseSse(response.body);
}

const deltasOf = (events: SseEvent[]) => events.filter((e) => e.event === 'message.delta').map((e) => e.data.delta as string).join('');

/** What the fake reports as usage for one request and reply (gpt-tokenizer, 3 tokens per message). */
function fakeUsage(request: RecordedRequest, reply: string) {
  const prompt = countTokens(request.messages.map((m) => m.content).join('\n'), { disallowedSpecial: new Set<string>() }) + 3 * request.messages.length;
  return { prompt_tokens: prompt, completion_tokens: countTokens(reply) };
}

describe('non-streaming turns when the model fails', () => {
  it('waits for Retry-After after a 429 and then answers in full', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.fail({ kind: 'status', status: 429, retryAfter: '1' });
    const response = await sendMessage(t, user, conversation.id, { content: MESSAGE });
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response).reply).toMatchObject({ role: 'assistant', status: 'complete', content: FULL_REPLY });
    expect(fake.requests).toHaveLength(2);
    // Without Retry-After the backoff here is at most 10 ms: a second's wait is the header honoured.
    expect(fake.requests[1]!.receivedAt - fake.requests[0]!.receivedAt).toBeGreaterThanOrEqual(900);
  });

  it('retries server errors and answers once the model recovers', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.fail({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    const response = await sendMessage(t, user, conversation.id, { content: MESSAGE });
    expect(response.statusCode, response.body).toBe(201);
    expect(json(response).reply).toMatchObject({ status: 'complete', content: FULL_REPLY });
    expect(fake.requests).toHaveLength(3);
    await expectStoredTurn(t, user, conversation.id, 'complete');
  });

  it('answers 502 llm_unavailable after 1 + LLM_MAX_RETRIES calls, keeping the message and a failed reply', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.fail({ kind: 'status', status: 500 }, { kind: 'status', status: 500 }, { kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    const response = await sendMessage(t, user, conversation.id, { content: MESSAGE });
    const problem = expectLlmUnavailable(response);
    expect(fake.requests).toHaveLength(3);
    const reply = await expectStoredTurn(t, user, conversation.id, 'failed');
    expect(problem.reply_id).toBe(reply.id);
    expect(reply.error).toBe('server_error');
    // Trying again replaces the failed reply with a complete one.
    const again = await t.request({ method: 'POST', url: `/v1/conversations/${conversation.id}/regenerate`, headers: bearer(user.accessToken), payload: {} });
    expect(again.statusCode, again.body).toBe(201);
    expect(json(again).reply).toMatchObject({ status: 'complete', content: FULL_REPLY });
    expect((await expectStoredTurn(t, user, conversation.id, 'complete')).content).toBe(FULL_REPLY);
  });

  it('does not retry when the provider says the account is out of quota', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.fail({ kind: 'quota' }, { kind: 'quota' }, { kind: 'quota' });
    expectLlmUnavailable(await sendMessage(t, user, conversation.id, { content: MESSAGE }));
    expect(fake.requests).toHaveLength(1);
    expect((await expectStoredTurn(t, user, conversation.id, 'failed')).error).toBe('quota_exceeded');
  });

  it('gives up on a model that never answers after LLM_TIMEOUT_MS, once per attempt, closing each call', async () => {
    const { user, conversation } = await chattingUser(slow);
    fake.fail({ kind: 'hang' }, { kind: 'hang' });
    expectLlmUnavailable(await sendMessage(slow, user, conversation.id, { content: MESSAGE }));
    expect(fake.requests).toHaveLength(2);
    // Each attempt was abandoned by Parley, not left open upstream.
    await fake.waitFor((requests) => requests.every((r) => r.closedAt !== null), 2000);
    expect(fake.requests.every((r) => r.aborted)).toBe(true);
    // The timed-out call was closed before the retry went out: never two calls at once.
    expect(fake.requests[0]!.closedAt!).toBeLessThanOrEqual(fake.requests[1]!.receivedAt);
    expect((await expectStoredTurn(slow, user, conversation.id, 'failed')).error).toBe('timeout');
  });

  it('answers 502 and stores a failed reply when the provider cannot be reached', async () => {
    const { user, conversation } = await chattingUser(unreachable);
    expectLlmUnavailable(await sendMessage(unreachable, user, conversation.id, { content: MESSAGE }));
    const reply = await expectStoredTurn(unreachable, user, conversation.id, 'failed');
    expect(reply).toMatchObject({ content: '', error: 'network_error' });
  });

  it('never hands out partial text: a cut answer is retried, or the reply is a 502 with nothing in it', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.fail({ kind: 'drop', afterChunks: 2 });
    const recovered = await sendMessage(t, user, conversation.id, { content: MESSAGE });
    expect(recovered.statusCode, recovered.body).toBe(201);
    expect(json(recovered).reply).toMatchObject({ status: 'complete', content: FULL_REPLY });
    expect(fake.requests.map((r) => r.stream)).toEqual([false, false]);

    fake.reset();
    const other = await createConversation(t, user);
    fake.fail({ kind: 'drop', afterChunks: 2 }, { kind: 'drop', afterChunks: 2 }, { kind: 'drop', afterChunks: 2 });
    const failed = await sendMessage(t, user, other.id, { content: MESSAGE });
    expect(expectLlmUnavailable(failed)).not.toHaveProperty('reply');
    expect(failed.body).not.toContain('You said');
    expect((await expectStoredTurn(t, user, other.id, 'failed')).content).toBe('');
  });
});

describe('a model answer that never ends (a broken proxy, a model in a loop)', () => {
  it('non-streaming: 502 once the answer passes what any model sends, the call closed, nothing retried, the server serving', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.fail({ kind: 'endless' });
    const sentBefore = fake.endlessBytes();
    expectLlmUnavailable(await sendMessage(t, user, conversation.id, { content: MESSAGE }));
    expect(fake.requests).toHaveLength(1);
    await fake.waitFor((requests) => requests[0]!.closedAt !== null, 5000);
    // Parley stopped reading and hung up well before memory would run out (it died at 512 MB).
    expect(fake.endlessBytes() - sentBefore).toBeLessThan(64 * 1024 * 1024);
    expect((await expectStoredTurn(t, user, conversation.id, 'failed')).content).toBe('');
    expect((await t.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('streaming: the text sent so far, an error event, the call closed, the partial reply stored failed', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.fail({ kind: 'endless' });
    const events = expectStream(await streamMessage(t, user, conversation.id));
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'llm_unavailable' } });
    expect(events.some((e) => e.event === 'message.end')).toBe(false);
    const partial = deltasOf(events);
    expect(partial.startsWith('endless endless')).toBe(true);
    expect(fake.requests).toHaveLength(1);
    await fake.waitFor((requests) => requests[0]!.closedAt !== null, 5000);
    const reply = await expectStoredTurn(t, user, conversation.id, 'failed');
    expect(reply.content.length).toBe(partial.length);
  });
});

describe('streaming turns when the model fails', () => {
  for (const kind of ['drop', 'stream-error'] as const) {
    it(`${kind} after text was sent: 200, deltas, an error event, no message.end, the partial reply stored failed, no retry`, async () => {
      const { user, conversation } = await chattingUser(t);
      fake.fail({ kind, afterChunks: 2 }, { kind, afterChunks: 2 });
      const events = expectStream(await streamMessage(t, user, conversation.id));
      expect(events[0]!.event).toBe('message.start');
      expect(events.filter((e) => e.event === 'message.delta').length).toBeGreaterThanOrEqual(1);
      expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'llm_unavailable' } });
      expect(events.some((e) => e.event === 'message.end')).toBe(false);
      const partial = deltasOf(events);
      expect(partial).toBe('You said: ');
      expect(fake.requests).toHaveLength(1);
      const reply = await expectStoredTurn(t, user, conversation.id, 'failed');
      expect(reply.id).toBe(events[0]!.data.reply_id);
      expect(reply.content).toBe(partial);
    });
  }

  it('retries a 500 that came before any text, then ends with the complete reply', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.fail({ kind: 'status', status: 500 });
    const events = expectStream(await streamMessage(t, user, conversation.id));
    expect(events.map((e) => e.event).filter((e) => e !== 'message.delta')).toEqual(['message.start', 'message.end']);
    expect(deltasOf(events)).toBe(FULL_REPLY);
    expect(events.at(-1)!.data.reply).toMatchObject({ status: 'complete', content: FULL_REPLY });
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests.every((r) => r.stream)).toBe(true);
  });

  it('stops a stream whose next chunk does not come within LLM_TIMEOUT_MS, keeping what arrived', async () => {
    const { user, conversation } = await chattingUser(slow);
    fake.setDelays({ chunkDelayMs: 2000 });
    const events = expectStream(await streamMessage(slow, user, conversation.id));
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'llm_unavailable' } });
    expect(deltasOf(events)).toBe('You ');
    expect(fake.requests).toHaveLength(1);
    await fake.waitFor((requests) => requests[0]!.closedAt !== null, 2000);
    expect(await expectStoredTurn(slow, user, conversation.id, 'failed')).toMatchObject({ content: 'You ', error: 'timeout' });
  });

  it('retries a stream that timed out before any text, then sends an error event', async () => {
    const { user, conversation } = await chattingUser(slow);
    fake.fail({ kind: 'hang' }, { kind: 'hang' });
    const events = expectStream(await streamMessage(slow, user, conversation.id));
    expect(events.map((e) => e.event)).toEqual(['message.start', 'error']);
    expect(events[1]!.data.code).toBe('llm_unavailable');
    expect(fake.requests).toHaveLength(2);
    await fake.waitFor((requests) => requests.every((r) => r.closedAt !== null), 2000);
    expect(await expectStoredTurn(slow, user, conversation.id, 'failed')).toMatchObject({ content: '', error: 'timeout' });
  });

  it('sends an error event when the provider cannot be reached', async () => {
    const { user, conversation } = await chattingUser(unreachable);
    const events = expectStream(await streamMessage(unreachable, user, conversation.id));
    expect(events.map((e) => e.event)).toEqual(['message.start', 'error']);
    expect(events[1]!.data.code).toBe('llm_unavailable');
    await expectStoredTurn(unreachable, user, conversation.id, 'failed');
  });

  it('refuses with an ordinary problem+json before the stream starts: unknown conversation, busy conversation', async () => {
    const { user, conversation } = await chattingUser(t);
    const unknown = await streamMessage(t, user, '0190a000-0000-7000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.contentType).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(unknown.body).code).toBe('not_found');

    fake.setDelays({ firstTokenDelayMs: 600 });
    const first = streamMessage(t, user, conversation.id);
    await fake.waitFor((requests) => requests.length === 1);
    const busy = await streamMessage(t, user, conversation.id, 'me again');
    expect(busy.status).toBe(409);
    expect(busy.contentType).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(busy.body).code).toBe('conversation_busy');
    const events = expectStream(await first);
    expect(events.at(-1)!.event).toBe('message.end');
  });
});

describe('what reaches the model and what is recorded', () => {
  it('stores the usage the model reported and a latency that covers its delay', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.setDelays({ firstTokenDelayMs: 50 });
    const response = await sendMessage(t, user, conversation.id, { content: MESSAGE });
    expect(response.statusCode, response.body).toBe(201);
    const reply = json(response).reply;
    const expected = fakeUsage(fake.requests[0]!, FULL_REPLY);
    expect(expected.completion_tokens).toBe(countTokens(reply.content));
    expect(reply.usage).toEqual(expected);
    expect(reply.latency_ms).toBeGreaterThanOrEqual(50);
    const stored = await expectStoredTurn(t, user, conversation.id, 'complete');
    expect(stored.usage).toEqual(expected);
    expect(stored.latency_ms).toBe(reply.latency_ms);
  });

  it('streams: message.end carries the stored reply with the reported usage and latency', async () => {
    const { user, conversation } = await chattingUser(t);
    fake.setDelays({ firstTokenDelayMs: 50 });
    const events = expectStream(await streamMessage(t, user, conversation.id));
    const end = events.at(-1)!;
    expect(end.event).toBe('message.end');
    expect(end.data.reply.usage).toEqual(fakeUsage(fake.requests[0]!, FULL_REPLY));
    expect(end.data.reply.latency_ms).toBeGreaterThanOrEqual(50);
    const stored = await expectStoredTurn(t, user, conversation.id, 'complete');
    expect(stored).toEqual(end.data.reply);
  });

  it('sends the API key as a bearer token and the default model', async () => {
    const { user, conversation } = await chattingUser(t);
    expect((await sendMessage(t, user, conversation.id, { content: MESSAGE })).statusCode).toBe(201);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ authorization: 'Bearer test-key', model: 'fake-model', stream: false });
  });

  it("sends the chatbot's own model when it chose another allowed one", async () => {
    const { user } = await chattingUser(t);
    const chatbot = await createChatbot(t, user, { model: 'fancy-model' });
    const conversation = await createConversation(t, user, { chatbot_id: chatbot.id });
    expect(expectStream(await streamMessage(t, user, conversation.id)).at(-1)!.event).toBe('message.end');
    expect(fake.requests.map((r) => r.model)).toEqual(['fancy-model']);
  });
});
