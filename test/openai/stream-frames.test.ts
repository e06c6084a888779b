// The streamed answer frame by frame, as SPEC §8 lists what real clients enforce: data-only
// `chat.completion.chunk` frames with one id, created and model; the role in the first delta;
// finish_reason on the last content chunk; with include_usage exactly one `choices: []` usage chunk
// right before [DONE] and `usage: null` everywhere else; an error after the first byte as one
// `data: {"error": …}` frame and no [DONE]; `: keep-alive` heartbeats; and the OpenAPI document.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectOpenAiError, frames, get, openAiStage, post, type Stage } from './stage.js';

let stage: Stage;
beforeAll(async () => {
  // Heartbeats every 100 ms (the least allowed), so a slow first token shows them.
  stage = await openAiStage({ SSE_HEARTBEAT_MS: '100' });
});
afterEach(() => stage.llm.reset());
afterAll(async () => {
  await stage?.close();
});

type Chunk = {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Array<{ index: number; delta: { role?: string; content?: string }; finish_reason: string | null; logprobs: null }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
};

const streamed = (body: Record<string, unknown> = {}) =>
  post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'user', content: 'Tell me about the rooms' }], stream: true, ...body });

describe('stream frames', () => {
  it('with include_usage: one usage chunk with choices [] right before [DONE], usage null on every other chunk', async () => {
    stage.llm.setReply(() => 'Every room has a sea view and a balcony.');
    const answer = await streamed({ stream_options: { include_usage: true } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(answer.text.split('\n').filter((line) => line && !line.startsWith(':')).every((line) => line.startsWith('data: '))).toBe(true);
    const all = frames(answer.text);
    expect(all.at(-1)).toBe('[DONE]');
    expect(answer.text.endsWith('data: [DONE]\n\n')).toBe(true);
    const chunks = all.slice(0, -1) as Chunk[];
    expect(new Set(chunks.map((c) => `${c.id}|${c.created}|${c.model}|${c.object}`))).toEqual(new Set([`${chunks[0]!.id}|${chunks[0]!.created}|${stage.bot.slug}|chat.completion.chunk`]));
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });

    const usageChunks = chunks.filter((c) => c.choices.length === 0);
    expect(usageChunks).toHaveLength(1);
    expect(chunks.at(-1)).toBe(usageChunks[0]);
    const usage = usageChunks[0]!.usage!;
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);

    const content = chunks.slice(0, -1);
    expect(content.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe('Every room has a sea view and a balcony.');
    expect(content.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(content.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
  });

  it('without include_usage: no usage anywhere, [DONE] last', async () => {
    const all = frames((await streamed()).text);
    expect(all.at(-1)).toBe('[DONE]');
    const chunks = all.slice(0, -1) as Chunk[];
    expect(chunks.every((c) => !('usage' in c) && c.choices.length === 1)).toBe(true);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('a reply that used every token the client allowed finishes for `length`', async () => {
    stage.llm.setReply(() => 'one two three four five six seven eight nine ten');
    const all = frames((await streamed({ max_tokens: 3 })).text) as Chunk[];
    expect(all.filter((c) => typeof c === 'object').at(-1)!.choices[0]!.finish_reason).toBe('length');
    const whole = await post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'user', content: 'Count' }], max_tokens: 3 });
    expect(whole.json.choices[0].finish_reason).toBe('length');
  });

  it('an upstream failure after the first byte: one error frame, then the end, never [DONE]', async () => {
    stage.llm.setReply(() => 'one two three four');
    stage.llm.fail({ kind: 'stream-error', afterChunks: 2 });
    const answer = await streamed({ stream_options: { include_usage: true } });
    expect(answer.status).toBe(200);
    const all = frames(answer.text);
    expect(all).not.toContain('[DONE]');
    const last = all.at(-1) as { error: Record<string, unknown> };
    expect(last).toEqual({ error: { message: expect.stringMatching(/model could not answer/), type: 'server_error', param: null, code: 'llm_unavailable' } });
    expect(all.filter((f) => typeof f === 'object' && f !== null && 'error' in f)).toHaveLength(1);
    expect((all.slice(0, -1) as Chunk[]).map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('one two ');
  });

  it('an upstream refusal before any text is also an error frame once the stream began', async () => {
    stage.llm.fail({ kind: 'status', status: 503 });
    const all = frames((await streamed()).text);
    expect((all[0] as Chunk).choices[0]!.delta.role).toBe('assistant');
    expect(all.at(-1)).toMatchObject({ error: { code: 'llm_unavailable', type: 'server_error' } });
    expect(all).not.toContain('[DONE]');
  });

  it('sends `: keep-alive` comments while the model is slow to start', async () => {
    stage.llm.setDelays({ firstTokenDelayMs: 350 });
    const answer = await streamed();
    expect(answer.text).toMatch(/^: keep-alive$/m);
    expect(frames(answer.text).at(-1)).toBe('[DONE]');
  });

  it('a whole answer to a model failure is 502 server_error, marked not to retry', async () => {
    stage.llm.fail({ kind: 'status', status: 500 });
    const answer = await post(stage, stage.key.key, { model: stage.bot.slug, messages: [{ role: 'user', content: 'x' }] });
    expectOpenAiError(answer, 502, 'llm_unavailable', 'server_error');
    expect(answer.headers.get('x-should-retry')).toBe('false');
  });
});

describe('models, raw', () => {
  it('GET /v1/models is OpenAI\'s list; an unknown id is 404 in OpenAI\'s shape', async () => {
    const list = await get(stage, stage.key.key, '/v1/models');
    expect(list.status).toBe(200);
    expect(list.json.object).toBe('list');
    expect(list.json.data[0]).toEqual({ id: stage.bot.slug, object: 'model', created: expect.any(Number), owned_by: 'chatbot' });
    expectOpenAiError(await get(stage, stage.key.key, '/v1/models/gpt-4o'), 404, 'model_not_found');
    expectOpenAiError(await get(stage, null, '/v1/models'), 401, 'invalid_api_key', 'authentication_error');
  });

  it('an id no chatbot or model can have (a NUL, a slash, odd bytes) is 404 model_not_found, not a server error', async () => {
    for (const id of ['%00', 'bot%00', '..%2F..%2Fetc', '%F0%9F%98%80', 'Bot_With.Dots']) {
      const answer = await get(stage, stage.key.key, `/v1/models/${id}`);
      expect(answer.status, `${id}: ${answer.text}`).toBe(404);
      expectOpenAiError(answer, 404, 'model_not_found');
    }
  });
});

describe('OpenAPI', () => {
  it('documents the routes, the streamed answer as text/event-stream and the OpenAI error shape', async () => {
    const doc = (await stage.t.request({ method: 'GET', url: '/openapi.json' })).json();
    const completions = doc.paths['/v1/chat/completions'].post;
    expect(Object.keys(completions.responses['200'].content).sort()).toEqual(['application/json', 'text/event-stream']);
    expect(JSON.stringify(completions.responses['404'])).toContain('OpenAIError');
    expect(doc.paths['/v1/models'].get).toBeDefined();
    expect(doc.paths['/v1/models/{id}'].get).toBeDefined();
  });
});
