import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countTokens } from 'gpt-tokenizer';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, generateText, jsonSchema, Output, streamText, tool } from 'ai';
import { startFakeLlm, type FakeLlm } from './fake-llm.js';

let fake: FakeLlm;

beforeAll(async () => {
  fake = await startFakeLlm();
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

const now = (): number => performance.timeOrigin + performance.now();

function chat(body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${fake.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

/** Response bodies are loosely typed on purpose: the tests check their shape. */
const json = (res: Response): Promise<any> => res.json();

const userMessages = (text: string) => [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: text },
];

function expectedPromptTokens(contents: string[]): number {
  return countTokens(contents.join('\n')) + 3 * contents.length;
}

/** Splits an SSE body into its `data:` payloads. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length));
}

/** Reads a streaming response until it ends or fails; returns what arrived and the failure, if any. */
async function readAll(res: Response): Promise<{ text: string; error: unknown }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, error: undefined };
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

describe('fake LLM over plain HTTP', () => {
  it('answers a non-streaming chat completion with usage, and records the request', async () => {
    const res = await chat({ model: 'gpt-test', messages: userMessages('Hello there, fake model!') });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = await json(res);
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-test',
      choices: [{ index: 0, message: { role: 'assistant', content: 'You said: Hello there, fake model!' }, finish_reason: 'stop' }],
    });
    expect(typeof body.id).toBe('string');
    expect(typeof body.created).toBe('number');
    const prompt = expectedPromptTokens(['Be brief.', 'Hello there, fake model!']);
    const completion = countTokens('You said: Hello there, fake model!');
    expect(body.usage).toEqual({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

    await fake.waitFor((requests) => requests[0]?.closedAt != null);
    const [recorded] = fake.requests;
    expect(recorded).toMatchObject({
      path: '/v1/chat/completions',
      method: 'POST',
      model: 'gpt-test',
      stream: false,
      authorization: 'Bearer sk-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello there, fake model!' },
      ],
      aborted: false,
      finished: true,
    });
    expect(recorded!.body.model).toBe('gpt-test');
    expect(recorded!.closedAt!).toBeGreaterThanOrEqual(recorded!.receivedAt);
    expect(fake.openResponses()).toBe(0);
  });

  it('flattens content parts to text and quotes only the first 200 characters of the last user message', async () => {
    const long = 'x'.repeat(300);
    const res = await chat({
      model: 'm',
      messages: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'an answer' },
        { role: 'user', content: [{ type: 'text', text: 'Hello ' }, { type: 'image_url', image_url: { url: 'data:,' } }, { type: 'text', text: long }] },
      ],
    });
    const body = await json(res);
    expect(body.choices[0].message.content).toBe(`You said: ${`Hello ${long}`.slice(0, 200)}`);
    expect(fake.requests[0]!.messages[2]).toEqual({ role: 'user', content: `Hello ${long}` });
  });

  it('streams one chunk per word that concatenate to the reply, then finish, usage and [DONE]', async () => {
    const reply = 'Hello  world,\nthis is\ta  streamed reply. ';
    fake.setReply(() => reply);
    const res = await chat({ model: 'm', stream: true, messages: userMessages('stream please') });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const data = sseData(await res.text());
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    for (const chunk of chunks) expect(chunk.object).toBe('chat.completion.chunk');
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });

    const contentChunks = chunks.slice(1, -2);
    const words = contentChunks.map((c) => c.choices[0].delta.content);
    expect(words).toEqual(['Hello  ', 'world,\n', 'this ', 'is\t', 'a  ', 'streamed ', 'reply. ']);
    expect(words.join('')).toBe(reply);

    expect(chunks.at(-2).choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    const usageChunk = chunks.at(-1);
    expect(usageChunk.choices).toEqual([]);
    const prompt = expectedPromptTokens(['Be brief.', 'stream please']);
    expect(usageChunk.usage).toEqual({ prompt_tokens: prompt, completion_tokens: countTokens(reply), total_tokens: prompt + countTokens(reply) });

    await fake.waitFor((requests) => requests[0]?.finished === true);
    expect(fake.requests[0]).toMatchObject({ stream: true, aborted: false, finished: true });
  });

  it('streams an empty reply as role, finish and usage chunks only', async () => {
    fake.setReply(() => '');
    const data = sseData(await (await chat({ model: 'm', stream: true, messages: userMessages('hi') })).text());
    expect(data).toHaveLength(4);
    expect(JSON.parse(data[2]!).usage.completion_tokens).toBe(0);
  });

  // The held-back delays below are far longer than any test timeout, so what arrives
  // at all shows what went out before the delay: order, not speed.
  const HELD = 10 * 60_000;

  /** Reads the stream until `until` matches what has arrived, then leaves and waits for the fake to see it. */
  async function readUntilThenLeave(until: RegExp): Promise<string> {
    const controller = new AbortController();
    const res = await chat({ model: 'm', stream: true, messages: userMessages('slow') }, { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!until.test(text)) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(fake.requests[0]).toMatchObject({ finished: false });
    controller.abort();
    await fake.waitFor((requests) => requests[0]?.closedAt != null, 2000);
    return text;
  }

  it('sends the headers and the role chunk before the first-token delay, and no content until it ends', async () => {
    fake.setReply(() => 'one two three four');
    fake.setDelays({ firstTokenDelayMs: HELD });
    const text = await readUntilThenLeave(/"role":"assistant"/);
    expect(text).not.toContain('"content":"one ');
    expect(text).not.toContain('[DONE]');
  });

  it('sends each content chunk as soon as it is due: the first arrives while the next is held back', async () => {
    fake.setReply(() => 'one two three four');
    fake.setDelays({ firstTokenDelayMs: 0, chunkDelayMs: HELD });
    const text = await readUntilThenLeave(/"content":"one "/);
    expect(text).not.toContain('"content":"two "');
    expect(text).not.toContain('[DONE]');
  });

  it('waits at least the first-token and between-chunk delays, streaming or not', async () => {
    fake.setReply(() => 'one two three four');
    fake.setDelays({ firstTokenDelayMs: 60, chunkDelayMs: 25 });
    // Only lower bounds: a busy machine can make the fake slower, never faster.
    const started = now();
    const res = await chat({ model: 'm', stream: true, messages: userMessages('slow') });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let firstContentAt = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (!firstContentAt && text.includes('"content":"one "')) firstContentAt = now() - started;
    }
    expect(firstContentAt).toBeGreaterThanOrEqual(55);
    expect(now() - started).toBeGreaterThanOrEqual(60 + 3 * 25 - 5);
    expect(sseData(text).at(-1)).toBe('[DONE]');

    // Non-streaming answers take as long as the stream would have.
    const t0 = now();
    await json(await chat({ model: 'm', messages: userMessages('slow') }));
    expect(now() - t0).toBeGreaterThanOrEqual(60 + 3 * 25 - 5);
  });

  it('stops streaming and records the abort when the client goes away mid-stream', async () => {
    fake.setReply(() => 'word '.repeat(200));
    fake.setDelays({ chunkDelayMs: 20 });
    const controller = new AbortController();
    const res = await chat({ model: 'm', stream: true, messages: userMessages('long') }, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    expect(fake.openResponses()).toBe(1);
    const leftAt = now();
    controller.abort();
    await fake.waitFor((requests) => requests[0]?.closedAt != null, 2000);
    const [recorded] = fake.requests;
    expect(recorded).toMatchObject({ aborted: true, finished: false });
    expect(recorded!.closedAt! - leftAt).toBeLessThan(1000);
    expect(fake.openResponses()).toBe(0);
  });

  it('answers a queued status fault with Retry-After and an OpenAI-style error body', async () => {
    fake.fail({ kind: 'status', status: 429, retryAfter: '7' });
    const res = await chat({ model: 'm', messages: userMessages('hi') });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    const body = await json(res);
    expect(body.error).toMatchObject({ message: expect.any(String), type: expect.any(String), code: expect.anything() });

    // The queue is empty again: the next request is answered normally.
    expect((await chat({ model: 'm', messages: userMessages('hi') })).status).toBe(200);
  });

  it('consumes queued faults in order, one per request, with custom bodies', async () => {
    fake.fail({ kind: 'status', status: 503 }, { kind: 'status', status: 400, body: { error: { message: 'nope', type: 'x', code: 'y' } } });
    const first = await chat({ model: 'm', stream: true, messages: userMessages('hi') });
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBeNull();
    expect((await json(first)).error.type).toBe('server_error');
    const second = await chat({ model: 'm', messages: userMessages('hi') });
    expect(second.status).toBe(400);
    expect(await json(second)).toEqual({ error: { message: 'nope', type: 'x', code: 'y' } });
    expect((await chat({ model: 'm', messages: userMessages('hi') })).status).toBe(200);
  });

  it('answers a quota fault with 429 insufficient_quota', async () => {
    fake.fail({ kind: 'quota' });
    const res = await chat({ model: 'm', stream: true, messages: userMessages('hi') });
    expect(res.status).toBe(429);
    expect(await json(res)).toEqual({
      error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' },
    });
  });

  it('hang: never answers; aborting the fetch is recorded with closedAt', async () => {
    fake.fail({ kind: 'hang' });
    const controller = new AbortController();
    const pending = chat({ model: 'm', stream: true, messages: userMessages('hi') }, { signal: controller.signal });
    await fake.waitFor((requests) => requests.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fake.requests[0]!.closedAt).toBeNull();
    expect(fake.openResponses()).toBe(1);

    const leftAt = now();
    controller.abort();
    await expect(pending).rejects.toThrow();
    await fake.waitFor((requests) => requests[0]?.closedAt != null, 2000);
    expect(fake.requests[0]).toMatchObject({ aborted: true, finished: false });
    expect(fake.requests[0]!.closedAt! - leftAt).toBeLessThan(1000);
    expect(fake.openResponses()).toBe(0);
  });

  it('drop: streaming sends N content chunks then cuts the connection; non-streaming gets no answer', async () => {
    fake.fail({ kind: 'drop', afterChunks: 2 });
    const res = await chat({ model: 'm', stream: true, messages: userMessages('one two three four five') });
    expect(res.status).toBe(200);
    const { text, error } = await readAll(res);
    expect(error).toBeDefined();
    const data = sseData(text);
    expect(data).toHaveLength(3); // role chunk + 2 content chunks
    expect(data.map((d) => JSON.parse(d).choices[0].delta.content).join('')).toBe('You said: ');
    await fake.waitFor((requests) => requests[0]?.closedAt != null);
    expect(fake.requests[0]).toMatchObject({ aborted: false, finished: false });

    fake.fail({ kind: 'drop', afterChunks: 0 });
    await expect(chat({ model: 'm', messages: userMessages('hi') })).rejects.toThrow();
    await fake.waitFor((requests) => requests[1]?.closedAt != null);
    expect(fake.requests[1]).toMatchObject({ aborted: false, finished: false });
    expect(fake.openResponses()).toBe(0);
  });

  it('stream-error: N content chunks, then an error event and a clean end without [DONE]; non-streaming gets a 500', async () => {
    fake.fail({ kind: 'stream-error', afterChunks: 1 });
    const res = await chat({ model: 'm', stream: true, messages: userMessages('one two three') });
    const { text, error } = await readAll(res);
    expect(error).toBeUndefined();
    const data = sseData(text);
    expect(data).toHaveLength(3);
    expect(JSON.parse(data[1]!).choices[0].delta.content).toBe('You ');
    expect(JSON.parse(data[2]!)).toEqual({ error: { message: 'upstream exploded', type: 'server_error' } });
    expect(text).not.toContain('[DONE]');

    fake.fail({ kind: 'stream-error', afterChunks: 1 });
    const plain = await chat({ model: 'm', messages: userMessages('hi') });
    expect(plain.status).toBe(500);
    expect((await json(plain)).error.message).toBe('upstream exploded');
  });

  it('lists the model, answers 404 elsewhere and 400 on malformed JSON without crashing', async () => {
    const models = await fetch(`${fake.url}/models`);
    expect(await json(models)).toMatchObject({ object: 'list', data: [{ id: 'fake-model', object: 'model' }] });

    const missing = await fetch(`${fake.url}/embeddings`, { method: 'POST', body: '{}' });
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.message).toContain('/v1/embeddings');
    expect((await fetch(`${fake.url}/chat/completions`)).status).toBe(404);

    fake.fail({ kind: 'quota' });
    const malformed = await chat('{"model": "m", "messages": [');
    expect(malformed.status).toBe(400);
    expect((await json(malformed)).error.code).toBe('invalid_json');
    expect((await chat('[1,2]')).status).toBe(400);
    expect((await chat({ model: 'm' })).status).toBe(400);
    expect(fake.requests.map((r) => r.body === null)).toEqual([true, true, false]);

    // Malformed requests do not consume the queued fault; the server is still fine.
    expect((await chat({ model: 'm', messages: userMessages('hi') })).status).toBe(429);
    expect((await chat({ model: 'm', messages: userMessages('<|endoftext|> special') })).status).toBe(200);
  });

  it('turns a throwing reply function into a 500', async () => {
    fake.setReply(() => {
      throw new Error('boom');
    });
    const res = await chat({ model: 'm', messages: userMessages('hi') });
    expect(res.status).toBe(500);
    expect((await json(res)).error.message).toContain('boom');
  });

  it('reset clears requests, faults, reply and delays; stats keep counting', async () => {
    const before = fake.stats();
    fake.setReply(() => 'custom');
    fake.setDelays({ firstTokenDelayMs: 5000 });
    fake.fail({ kind: 'quota' }, { kind: 'quota' });
    expect((await chat({ model: 'm', messages: userMessages('hi') })).status).toBe(429);
    expect(fake.requests).toHaveLength(1);
    const requests = fake.requests;

    fake.reset();
    expect(fake.requests).toHaveLength(0);
    expect(fake.requests).toBe(requests);
    const t0 = now();
    const body = await json(await chat({ model: 'm', messages: userMessages('again') }));
    expect(now() - t0).toBeLessThan(1000);
    expect(body.choices[0].message.content).toBe('You said: again');
    await fake.waitFor((r) => r[0]?.finished === true);
    expect(fake.stats()).toMatchObject({ received: before.received + 2, open: 0, closed: before.closed + 2 });
  });

  it('waitFor rejects with a clear message on timeout', async () => {
    await expect(fake.waitFor((requests) => requests.length > 0, 50)).rejects.toThrow(/waitFor timed out after 50 ms.*0 recorded request/);
  });

  it('record: false keeps no requests but still counts; close() ends open connections', async () => {
    const quiet = await startFakeLlm({ record: false, reply: () => 'quiet' });
    try {
      quiet.fail({ kind: 'hang' });
      const hanging = fetch(`${quiet.url}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      });
      const res = await fetch(`${quiet.url}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      });
      expect((await json(res)).choices[0].message.content).toBe('quiet');
      const deadline = Date.now() + 2000;
      while (quiet.stats().closed < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(quiet.requests).toHaveLength(0);
      expect(quiet.stats()).toMatchObject({ received: 2, open: 1, closed: 1 });
      const firstClosedAt = quiet.stats().lastClosedAt!;
      expect(quiet.openResponses()).toBe(1);

      const closingAt = now();
      await quiet.close();
      await expect(hanging).rejects.toThrow();
      expect(quiet.stats()).toMatchObject({ received: 2, open: 0, closed: 2 });
      // The hanging call closed last: lastClosedAt is the time of its close, not of the first.
      expect(firstClosedAt).toBeLessThan(closingAt);
      expect(quiet.stats().lastClosedAt!).toBeGreaterThanOrEqual(closingAt);
      expect(quiet.stats().lastClosedAt!).toBeLessThanOrEqual(now());
    } finally {
      await quiet.close();
    }
  });
});

describe('fake LLM through the AI SDK (@ai-sdk/openai-compatible)', () => {
  const model = () => createOpenAICompatible({ name: 'fake', baseURL: fake.url, apiKey: 'sk-sdk' }).chatModel('fake-model');

  it('generateText gets the text and the usage', async () => {
    const result = await generateText({ model: model(), system: 'Be brief.', prompt: 'Hi from the SDK', maxRetries: 0 });
    expect(result.text).toBe('You said: Hi from the SDK');
    const prompt = expectedPromptTokens(['Be brief.', 'Hi from the SDK']);
    expect(result.usage.inputTokens).toBe(prompt);
    expect(result.usage.outputTokens).toBe(countTokens('You said: Hi from the SDK'));
    expect(result.usage.totalTokens).toBe(prompt + countTokens('You said: Hi from the SDK'));
    expect(result.finishReason).toBe('stop');
    expect(fake.requests[0]).toMatchObject({ model: 'fake-model', stream: false, authorization: 'Bearer sk-sdk' });
  });

  it('streamText streams the text and gets the usage', async () => {
    fake.setReply(() => 'Streaming through the real SDK works.');
    const result = streamText({ model: model(), prompt: 'go', maxRetries: 0 });
    const deltas: string[] = [];
    for await (const delta of result.textStream) deltas.push(delta);
    expect(deltas).toEqual(['Streaming ', 'through ', 'the ', 'real ', 'SDK ', 'works.']);
    expect(await result.text).toBe('Streaming through the real SDK works.');
    const usage = await result.usage;
    expect(usage.inputTokens).toBe(expectedPromptTokens(['go']));
    expect(usage.outputTokens).toBe(countTokens('Streaming through the real SDK works.'));
    expect(await result.finishReason).toBe('stop');
    // Without `includeUsage: true` the provider does not ask for usage; the fake sends it anyway.
    expect(fake.requests[0]!.body).toMatchObject({ stream: true, model: 'fake-model' });
    expect(fake.requests[0]!.body.stream_options).toBeUndefined();
  });

  it('a stream-error fault surfaces as an error part in fullStream', async () => {
    fake.fail({ kind: 'stream-error', afterChunks: 2 });
    const errors: unknown[] = [];
    const result = streamText({ model: model(), prompt: 'one two three', maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    const parts: Array<{ type: string; [key: string]: unknown }> = [];
    for await (const part of result.fullStream) parts.push(part);
    const text = parts.filter((p) => p.type === 'text-delta').map((p) => p.text).join('');
    expect(text).toBe('You said: ');
    const errorPart = parts.find((p) => p.type === 'error');
    expect(errorPart?.error).toMatchObject({ message: 'upstream exploded', type: 'server_error' });
    expect(errors).toHaveLength(1);
  });

  it('a mid-stream drop makes fullStream iteration throw (no error part)', async () => {
    fake.fail({ kind: 'drop', afterChunks: 2 });
    const result = streamText({ model: model(), prompt: 'one two three', maxRetries: 0, onError: () => {} });
    const types: string[] = [];
    const thrown = await (async () => {
      for await (const part of result.fullStream) types.push(part.type);
    })().catch((e: unknown) => e);
    expect(APICallError.isInstance(thrown)).toBe(true);
    expect((thrown as APICallError).statusCode).toBe(200);
    expect(types.filter((t) => t === 'text-delta')).toHaveLength(2);
    expect(types).not.toContain('error');
  });

  it('a 429 fault surfaces as an APICallError with status and Retry-After', async () => {
    fake.fail({ kind: 'status', status: 429, retryAfter: '1' });
    const error = await generateText({ model: model(), prompt: 'hi', maxRetries: 0 }).catch((e: unknown) => e);
    expect(APICallError.isInstance(error)).toBe(true);
    const apiError = error as APICallError;
    expect(apiError.statusCode).toBe(429);
    expect(apiError.isRetryable).toBe(true);
    expect(apiError.responseHeaders?.['retry-after']).toBe('1');
    expect(fake.requests).toHaveLength(1);
  });
});

describe('fake LLM answering structured-output requests', () => {
  const schema = {
    type: 'object',
    properties: { company_name: { type: ['string', 'null'] }, company_size: { type: ['number', 'null'] } },
    required: ['company_name', 'company_size'],
    additionalProperties: false,
  };
  const jsonSchemaRequest = (extra: object = {}) => ({
    model: 'm',
    messages: userMessages('We are Contoso, 40 people'),
    response_format: { type: 'json_schema', json_schema: { name: 'fields', strict: true, schema } },
    ...extra,
  });
  const toolRequest = (extra: object = {}) => ({
    model: 'm',
    messages: userMessages('We are Contoso, 40 people'),
    tools: [{ type: 'function', function: { name: 'fields', parameters: schema, strict: true } }],
    tool_choice: { type: 'function', function: { name: 'fields' } },
    ...extra,
  });
  const scripted = { company_name: 'Contoso', company_size: 40 };

  it('answers response_format json_schema with the scripted JSON as the content, with usage', async () => {
    fake.setExtraction(() => scripted);
    const body = await json(await chat(jsonSchemaRequest()));
    const text = JSON.stringify(scripted);
    expect(body.choices[0]).toEqual({ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' });
    const prompt = expectedPromptTokens(['Be brief.', 'We are Contoso, 40 people']);
    expect(body.usage).toEqual({ prompt_tokens: prompt, completion_tokens: countTokens(text), total_tokens: prompt + countTokens(text) });
    expect(fake.requests[0]).toMatchObject({ structured: 'json_schema' });
    expect(fake.requests[0]!.body.response_format.json_schema.schema).toEqual(schema);
  });

  it('answers a forced tool call with tool_calls carrying the JSON as arguments and no content', async () => {
    fake.setExtraction((request) => ({ company_name: request.messages.at(-1)!.content.slice(7, 14), company_size: null }));
    const body = await json(await chat(toolRequest()));
    expect(body.choices[0]).toMatchObject({
      message: { role: 'assistant', content: null, tool_calls: [{ id: expect.any(String), type: 'function', function: { name: 'fields' } }] },
      finish_reason: 'tool_calls',
    });
    expect(JSON.parse(body.choices[0].message.tool_calls[0].function.arguments)).toEqual({ company_name: 'Contoso', company_size: null });
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(fake.requests[0]).toMatchObject({ structured: 'tool' });
  });

  it('unscripted, answers every key of the schema null ({} in JSON mode); a string is sent verbatim', async () => {
    expect(JSON.parse((await json(await chat(jsonSchemaRequest()))).choices[0].message.content)).toEqual({ company_name: null, company_size: null });
    const tool = await json(await chat(toolRequest()));
    expect(JSON.parse(tool.choices[0].message.tool_calls[0].function.arguments)).toEqual({ company_name: null, company_size: null });
    const jsonMode = await json(await chat({ model: 'm', messages: userMessages('hi'), response_format: { type: 'json_object' } }));
    expect(jsonMode.choices[0].message.content).toBe('{}');

    fake.setExtraction(() => '{"company_name": "Contoso",');
    expect((await json(await chat(jsonSchemaRequest()))).choices[0].message.content).toBe('{"company_name": "Contoso",');
    // Ordinary requests still get the reply, whatever extraction is scripted.
    expect((await json(await chat({ model: 'm', messages: userMessages('plain') }))).choices[0].message.content).toBe('You said: plain');
    expect(fake.requests.map((r) => r.structured)).toEqual(['json_schema', 'tool', 'json_object', 'json_schema', null]);
  });

  it('refuses rejected modes with a 400 like a provider without them, keeping queued faults for the next request', async () => {
    fake.rejectModes(['json_schema', 'tool']);
    fake.fail({ kind: 'status', status: 503 });
    const refused = await chat(jsonSchemaRequest());
    expect(refused.status).toBe(400);
    expect(await json(refused)).toMatchObject({ error: { message: 'response_format json_schema is not supported', type: 'invalid_request_error' } });
    const refusedTool = await chat(toolRequest());
    expect(refusedTool.status).toBe(400);
    expect((await json(refusedTool)).error.message).toBe('tools are not supported');

    expect((await chat({ model: 'm', messages: userMessages('hi'), response_format: { type: 'json_object' } })).status).toBe(503);
    expect((await chat({ model: 'm', messages: userMessages('hi'), response_format: { type: 'json_object' } })).status).toBe(200);
    expect(fake.requests).toHaveLength(4);

    fake.reset();
    expect((await chat(jsonSchemaRequest())).status).toBe(200);
  });

  it('reset forgets the scripted extraction', async () => {
    fake.setExtraction(() => scripted);
    fake.reset();
    expect(JSON.parse((await json(await chat(jsonSchemaRequest()))).choices[0].message.content)).toEqual({ company_name: null, company_size: null });
  });

  it('streams a forced tool call: name first, then argument pieces, finish_reason tool_calls, usage and [DONE]', async () => {
    fake.setExtraction(() => ({ company_name: 'Contoso Ltd', company_size: 40 }));
    const data = sseData(await (await chat(toolRequest({ stream: true }))).text());
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks[0].choices[0].delta).toMatchObject({ role: 'assistant', content: null, tool_calls: [{ index: 0, type: 'function', function: { name: 'fields', arguments: '' } }] });
    const pieces = chunks.slice(1, -2).map((c) => c.choices[0].delta.tool_calls[0].function.arguments);
    expect(pieces.length).toBeGreaterThan(1);
    expect(JSON.parse(pieces.join(''))).toEqual({ company_name: 'Contoso Ltd', company_size: 40 });
    expect(chunks.at(-2).choices[0]).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
    expect(chunks.at(-1).usage.completion_tokens).toBe(countTokens(pieces.join('')));
  });

  it('applies faults to structured requests as to any other', async () => {
    fake.fail({ kind: 'status', status: 429, retryAfter: '1' }, { kind: 'hang' });
    expect((await chat(toolRequest())).status).toBe(429);
    const controller = new AbortController();
    const pending = chat(jsonSchemaRequest(), { signal: controller.signal });
    await fake.waitFor((requests) => requests.length === 2);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await fake.waitFor((requests) => requests[1]?.aborted === true);
  });

  it('serves the AI SDK: structured outputs as json_schema, and a forced tool call', async () => {
    const provider = createOpenAICompatible({ name: 'fake', baseURL: fake.url, apiKey: 'sk-sdk', supportsStructuredOutputs: true });
    fake.setExtraction(() => scripted);
    const result = await generateText({
      model: provider.chatModel('fake-model'),
      prompt: 'We are Contoso, 40 people',
      output: Output.object({ schema: jsonSchema<{ company_name: string | null; company_size: number | null }>(schema as never) }),
      maxRetries: 0,
    });
    expect(result.output).toEqual(scripted);
    expect(fake.requests[0]!.body.response_format).toMatchObject({ type: 'json_schema', json_schema: { schema } });

    const called = await generateText({
      model: provider.chatModel('fake-model'),
      prompt: 'We are Contoso, 40 people',
      tools: { fields: tool({ inputSchema: jsonSchema(schema as never) }) },
      toolChoice: { type: 'tool', toolName: 'fields' },
      maxRetries: 0,
    });
    expect(called.finishReason).toBe('tool-calls');
    expect(called.toolCalls).toMatchObject([{ toolName: 'fields', input: scripted }]);
    expect(called.usage.outputTokens).toBe(countTokens(JSON.stringify(scripted)));
    expect(fake.requests[1]!.structured).toBe('tool');
  });
});
